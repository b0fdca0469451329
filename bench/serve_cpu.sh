#!/usr/bin/env bash
# The server's CPU cost per send (see BENCHMARKS.md): starts `openwaba serve` as
# serve_load.sh does, drives it with wrk, and over an 8 s window in the middle of the run
# reads the sends it accepted (/metrics) and the CPU its threads used (/proc), giving
# sends/s, cores and microseconds of server CPU per send: steadier than sends/s alone on a
# shared box, and the figure that decides the share of hello-world (BENCHMARKS.md).
# env: USERS (50000), CONNS (64), BIN, RECEIPTS=manual (phones silent), PERF=1 (perf record
# of the window into /tmp/openwaba-serve.perf)
set -euo pipefail
command -v wrk >/dev/null || { echo "serve_cpu.sh needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }
cd "$(dirname "$0")/.."
USERS=${USERS:-50000}
PORT=${PORT:-4987}
BIN=${BIN:-target/release/openwaba}
DATA=$(mktemp -d)
OPENWABA_ACCESS_TOKEN=bench-token OPENWABA_ADMIN_TOKEN=bench-admin \
OPENWABA_WABA_ID=200000000000001 OPENWABA_PHONE_NUMBER_ID=300000000000001 \
OPENWABA_THROUGHPUT_MPS=1000000 OPENWABA_LOG=warn \
  "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
if [ "${RECEIPTS:-auto}" = manual ]; then python3 bench/prepare_users.py $PORT $USERS --receipts manual
else python3 bench/prepare_users.py $PORT $USERS; fi
OUT=$(mktemp)
OPENWABA_USERS=$USERS wrk -t2 -c${CONNS:-64} -d16s --latency -s bench/send.lua \
  http://127.0.0.1:$PORT/v23.0/300000000000001/messages > "$OUT" &
WRK=$!
sleep 3
sends() { curl -s localhost:$PORT/metrics | awk '/^openwaba_sends_total/ {s+=$2} END {print s}'; }
ticks() { local t=0; for f in /proc/$SERVER/task/*/stat; do t=$((t + $(awk '{print $14+$15}' "$f"))); done; echo $t; }
S0=$(sends); C0=$(ticks); T0=$(date +%s.%N)
if [ -n "${PERF:-}" ]; then
  perf record -F 499 --call-graph dwarf,16384 -o /tmp/openwaba-serve.perf -p $SERVER -- sleep 8 >/dev/null 2>&1
else sleep 8; fi
S1=$(sends); C1=$(ticks); T1=$(date +%s.%N)
HZ=$(getconf CLK_TCK)
python3 -c "
dt=$T1-$T0; n=$S1-$S0; cores=($C1-$C0)/$HZ/dt
print(f'window: {n/dt:,.0f} sends/s, server {cores:.2f} cores, {cores*1e6/(n/dt):.1f} us of server CPU per send')"
wait $WRK
grep -E "Requests/sec|99%|Non-2xx" "$OUT"; rm -f "$OUT"
