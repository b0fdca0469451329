#!/usr/bin/env bash
# CPU per request of wrk and of each server, openwaba and the bare axum hello-world, under
# the same wrk load (see BENCHMARKS.md): on 2 cores, a server's throughput is 2 cores divided
# by its own CPU, wrk's and the idle time per request, so this shows which of the three
# separates openwaba from the hello-world. env: CONNS (128), ROUNDS (2), BIN, USERS,
# RECEIPTS; see serve_common.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/serve_common.sh
cargo build --release -q -p openwaba-server --example hello
trap 'stop_server; kill ${HELLO:-} 2>/dev/null || true' EXIT
start_server
target/release/examples/hello 4988 &
HELLO=$!
for _ in $(seq 100); do curl -sf -X POST localhost:4988/ >/dev/null && break; sleep 0.1; done
ticks() { local t=0; for f in /proc/$1/task/*/stat; do t=$((t + $(awk '{print $14+$15}' "$f"))); done; echo $t; }
measure() { # url, server pid
  local out; out=$(mktemp)
  OPENWABA_USERS=$USERS wrk -t2 -c${CONNS:-128} -d10s -s bench/send.lua "$1" > "$out" &
  local w=$!
  sleep 3
  local w0 s0 t0 w1 s1 t1
  w0=$(ticks $w); s0=$(ticks $2); t0=$(date +%s.%N)
  sleep 5
  w1=$(ticks $w); s1=$(ticks $2); t1=$(date +%s.%N)
  wait $w
  python3 -c "
r = $(awk '/Requests\/sec/ {print $2}' "$out"); dt = $t1 - $t0; hz = $(getconf CLK_TCK)
us = lambda t: t * 1e6 / hz / dt / r
print(f'{r:8.0f} req/s: wrk {us($w1 - $w0):5.1f} us/req, server {us($s1 - $s0):5.1f} us/req, '
      f'2 cores = {2e6 / r:5.1f} us/req, the rest idle')"
  rm -f "$out"
}
for _ in $(seq ${ROUNDS:-2}); do
  echo "openwaba:    $(measure http://127.0.0.1:$PORT/v23.0/300000000000001/messages $SERVER)"
  sleep 4  # the receipts of those sends fall due 1 s and 3 s later
  echo "hello-world: $(measure http://127.0.0.1:4988/v23.0/300000000000001/messages $HELLO)"
done
