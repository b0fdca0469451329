#!/usr/bin/env bash
# Load test of `openwaba serve` (see BENCHMARKS.md): opens a service window for USERS users
# through the admin API, then drives POST /messages with wrk at full speed, then at a fixed
# rate to read latency. Durable commits (SQLite WAL, synchronous=FULL) are on.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
# The simulated phones' receipts: RECEIPTS=auto (default: each send is followed by a
# delivered and a read receipt, 1 s and 3 s later, each one more write) or manual (the phones
# stay silent, so the run measures the API's own work).
source bench/serve_common.sh
trap 'stop_server' EXIT
start_server
echo "== openwaba serve at a fixed rate (open loop, latency from the due time)"
cargo build --release -q -p openwaba-server --example loadgen
for RATE in ${RATES:-5000 10000}; do
  target/release/examples/loadgen http://127.0.0.1:$PORT/v23.0/300000000000001/messages $RATE 10 $USERS bench-token
done

echo "== openwaba serve, max throughput ($CONNS connections, $DURATION)"
OPENWABA_USERS=$USERS wrk -t2 -c$CONNS -d$DURATION --latency -s bench/send.lua \
  http://127.0.0.1:$PORT/v23.0/300000000000001/messages

echo "== bare axum hello-world, same load"
cargo build --release -q -p openwaba-server --example hello
target/release/examples/hello 4988 &
HELLO=$!
trap 'kill $HELLO 2>/dev/null || true; stop_server' EXIT
for _ in $(seq 100); do curl -sf -X POST localhost:4988/ >/dev/null && break; sleep 0.1; done
OPENWABA_USERS=$USERS wrk -t2 -c$CONNS -d$DURATION --latency -s bench/send.lua \
  http://127.0.0.1:4988/v23.0/300000000000001/messages

