#!/usr/bin/env bash
# CPU per request of wrk and of each server, openwaba and the bare axum hello-world, under
# the same wrk load (see BENCHMARKS.md): on 2 cores, a server's throughput is 2 cores divided
# by its own CPU, wrk's and the idle time per request, so this shows which of the three
# separates openwaba from the hello-world. env: CONNS (128), ROUNDS (2), BIN, USERS,
# RECEIPTS; see serve_common.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/serve_common.sh
trap 'stop_server; kill ${HELLO:-} 2>/dev/null || true' EXIT
start_server
start_hello
ticks() { local t=0; for f in /proc/$1/task/*/stat; do t=$((t + $(awk '{print $14+$15}' "$f"))); done; echo $t; }
# measure URL PID [PORT]: the rate and CPU per request over a 5 s window of a wrk run; with
# PORT (openwaba's), the rate is its accepted sends in the window (from /metrics), so that
# refused answers, cheaper than a send, are not counted as requests served.
measure() {
  local out; out=$(mktemp)
  OPENWABA_USERS=$USERS wrk -t2 -c${CONNS:-128} -d10s -s bench/send.lua "$1" > "$out" &
  local w=$!
  sleep 3
  local w0 s0 t0 w1 s1 t1
  local a0=0 a1=0
  [ -n "${3:-}" ] && a0=$(accepted_sends $3)
  w0=$(ticks $w); s0=$(ticks $2); t0=$(date +%s.%N)
  sleep 5
  w1=$(ticks $w); s1=$(ticks $2); t1=$(date +%s.%N)
  [ -n "${3:-}" ] && a1=$(accepted_sends $3)
  wait $w
  python3 -c "
dt = $t1 - $t0; hz = $(getconf CLK_TCK)
r = ($a1 - $a0) / dt if ${3:-0} else $(awk '/Requests\/sec/ {print $2}' "$out")
us = lambda t: t * 1e6 / hz / dt / r
print(f'{r:8.0f} req/s: wrk {us($w1 - $w0):5.1f} us/req, server {us($s1 - $s0):5.1f} us/req, '
      f'2 cores = {2e6 / r:5.1f} us/req, the rest idle')"
  rm -f "$out"
}
for _ in $(seq ${ROUNDS:-2}); do
  echo "openwaba:    $(measure http://127.0.0.1:$PORT/v23.0/300000000000001/messages $SERVER $PORT)"
  sleep 4  # the receipts of those sends fall due 1 s and 3 s later
  echo "hello-world: $(measure http://127.0.0.1:$HELLO_PORT/v23.0/300000000000001/messages $HELLO)"
done
