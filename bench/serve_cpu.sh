#!/usr/bin/env bash
# The server's CPU cost per send (see BENCHMARKS.md): starts `openwaba serve` as
# serve_load.sh does, drives it with wrk, and over an 8 s window in the middle of the run
# reads the sends it accepted (/metrics: delivered and failed, answered 200) and the CPU its threads used (/proc), giving
# sends/s, cores and microseconds of server CPU per send: steadier than sends/s alone on a
# shared box, and the figure that decides the share of hello-world (BENCHMARKS.md).
# env: USERS (50000), CONNS (64), BIN, RECEIPTS=manual (phones silent), PERF=1 (perf record
# of the window into /tmp/openwaba-serve.perf); see serve_common.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/serve_common.sh
trap 'stop_server' EXIT
start_server
OUT=$(mktemp)
OPENWABA_USERS=$USERS wrk -t2 -c${CONNS:-64} -d16s --latency -s bench/send.lua \
  http://127.0.0.1:$PORT/v23.0/300000000000001/messages > "$OUT" &
WRK=$!
sleep 3
ticks() { local t=0; for f in /proc/$SERVER/task/*/stat; do t=$((t + $(awk '{print $14+$15}' "$f"))); done; echo $t; }
S0=$(accepted_sends $PORT); C0=$(ticks); T0=$(date +%s.%N)
if [ -n "${PERF:-}" ]; then
  perf record -F 499 --call-graph dwarf,16384 -o /tmp/openwaba-serve.perf -p $SERVER -- sleep 8 >/dev/null 2>&1
else sleep 8; fi
S1=$(accepted_sends $PORT); C1=$(ticks); T1=$(date +%s.%N)
HZ=$(getconf CLK_TCK)
python3 -c "
dt=$T1-$T0; n=$S1-$S0; cores=($C1-$C0)/$HZ/dt
print(f'window: {n/dt:,.0f} sends/s, server {cores:.2f} cores, {cores*1e6/(n/dt):.1f} us of server CPU per send')"
wait $WRK
grep -E "Requests/sec|99%|Non-2xx" "$OUT"; rm -f "$OUT"
# Too few users for the rate trip the pair rate limit (131056; 5k users at 30k/s do, 50k do
# not): wrk counts those answers as Non-2xx, and the window above leaves them out.
