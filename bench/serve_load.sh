#!/usr/bin/env bash
# Load test of `openwaba serve` (see BENCHMARKS.md): opens a service window for USERS users
# through the admin API, then drives POST /messages with wrk at full speed, then at a fixed
# rate to read latency. Durable commits (SQLite WAL, synchronous=FULL) are on.
set -euo pipefail
command -v wrk >/dev/null || { echo "serve_load.sh needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }
cd "$(dirname "$0")/.."
USERS=${USERS:-50000}
# The simulated phones' receipts: auto (default: each send is followed by a delivered and a
# read receipt, 1 s and 3 s later, each one more write) or manual (the phones stay silent,
# so the run measures the API's own work).
RECEIPTS=${RECEIPTS:-auto}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
PORT=${PORT:-4987}
BIN=${BIN:-target/release/openwaba}
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
OPENWABA_ACCESS_TOKEN=bench-token OPENWABA_ADMIN_TOKEN=bench-admin \
OPENWABA_WABA_ID=200000000000001 OPENWABA_PHONE_NUMBER_ID=300000000000001 \
OPENWABA_THROUGHPUT_MPS=1000000 OPENWABA_LOG=warn \
  "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >/dev/null &
SERVER=$!
for _ in $(seq 100); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
if [ "$RECEIPTS" = auto ]; then python3 bench/prepare_users.py $PORT $USERS
else python3 bench/prepare_users.py $PORT $USERS --receipts "$RECEIPTS"; fi
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
trap 'kill $SERVER $HELLO 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf -X POST localhost:4988/ >/dev/null && break; sleep 0.1; done
OPENWABA_USERS=$USERS wrk -t2 -c$CONNS -d$DURATION --latency -s bench/send.lua \
  http://127.0.0.1:4988/v23.0/300000000000001/messages

