#!/usr/bin/env bash
# Load test of `openwaba serve` (see BENCHMARKS.md): opens a service window for USERS users
# through the admin API, drives POST /messages at fixed rates (RATES, open loop) to read
# latency, then with wrk at full speed at each connection count of CONNS_LIST, each followed
# by a bare axum hello-world under the same wrk load. Durable commits (SQLite WAL,
# synchronous=FULL) are on. env: DURATION (10s), RATES ("5000 10000"), CONNS_LIST
# ("64 128 256"), and those of serve_common.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
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

# Throughput is a server's saturated rate. A server that answers only after a durable group
# commit needs more requests in flight than a bare hello-world to keep the 2 cores busy, so
# both are driven at each connection count of CONNS_LIST, alternately (ours, then the
# hello-world once our receipts have settled), and the summary compares peak with peak and
# also each count on its own.
cargo build --release -q -p openwaba-server --example hello
target/release/examples/hello 4988 &
HELLO=$!
trap 'kill $HELLO 2>/dev/null || true; stop_server' EXIT
for _ in $(seq 100); do curl -sf -X POST localhost:4988/ >/dev/null && break; sleep 0.1; done
rate() { OPENWABA_USERS=$USERS wrk -t2 -c$1 -d$DURATION --latency -s bench/send.lua "$2" \
  | tee -a "$WRK_LOG" | awk '/^Requests\/sec/ {printf "%d", $2}'; }
WRK_LOG=$(mktemp)
SUMMARY=""
for C in ${CONNS_LIST:-64 128 256}; do
  echo "== $C connections, $DURATION: openwaba serve, then the bare axum hello-world"
  OURS=$(rate $C http://127.0.0.1:$PORT/v23.0/300000000000001/messages)
  # Receipts fall due 1 s and 3 s after a send: let them pass before the baseline runs.
  sleep 4
  BASE=$(rate $C http://127.0.0.1:4988/v23.0/300000000000001/messages)
  echo "   openwaba $OURS/s, hello-world $BASE/s"
  SUMMARY="$SUMMARY$C $OURS $BASE
"
done
grep -E 'Latency|50%|99%|Non-2xx' "$WRK_LOG" | sed 's/^/   /' | head -40
rm -f "$WRK_LOG"
printf '%s' "$SUMMARY" | awk '
  BEGIN { print "== summary (sends/s; share = openwaba / hello-world)"; printf "   %-12s %10s %12s %7s\n", "connections", "openwaba", "hello-world", "share" }
  # A wrk run that printed no rate shows as 0 (and no share), not as an awk error.
  function share(a, b) { return b > 0 ? sprintf("%6.1f%%", 100 * a / b) : "     -" }
  { printf "   %-12s %10d %12d %s\n", $1, $2, $3, share($2, $3); if ($2 > po) po = $2; if ($3 > pb) pb = $3 }
  END { printf "   %-12s %10d %12d %s\n", "peak", po, pb, share(po, pb) }'
