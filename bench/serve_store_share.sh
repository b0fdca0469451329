#!/usr/bin/env bash
# What the durable store costs, as a share of the hello-world (see BENCHMARKS.md): one
# `openwaba serve`, built with the store's `bench-skip-writes` feature, is driven by wrk
# with its store on (every send committed, durable, as in serve_load.sh) and then off (the
# writer answers every job at once and writes nothing), then the bare axum hello-world
# under the same load; ROUNDS times at each connection count of CONNS_LIST, alternated in
# one run so that the box's drift falls on all three alike. The store-off figure is the
# most this build's HTTP, parsing, rules and receipts path can give, whatever the store.
# Never run such a build for real traffic. env: ROUNDS (3), CONNS_LIST ("64 128 256"),
# DURATION (8s), and those of serve_common.sh (its BIN is set here).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8s}
cargo build --release -q --target-dir target/bench-skip -p openwaba -p openwaba-store \
  --features openwaba-store/bench-skip-writes
cargo build --release -q -p openwaba-server --example hello
BIN=target/bench-skip/release/openwaba
FLAG=$(mktemp -u /tmp/openwaba-skip-writes.XXXXXX)
export OPENWABA_BENCH_SKIP_WRITES_FLAG=$FLAG
source bench/serve_common.sh
target/release/examples/hello 4988 &
HELLO=$!
trap 'kill $HELLO 2>/dev/null || true; stop_server; rm -f "$FLAG"' EXIT
start_server
rate() { OPENWABA_USERS=$USERS wrk -t2 -c$1 -d$DURATION -s bench/send.lua "$2" \
  | awk '/^Requests\/sec/ {printf "%d", $2}'; }
OURS=http://127.0.0.1:$PORT/v23.0/300000000000001/messages
echo "   round connections  store-on store-off hello-world  share-on share-off"
for R in $(seq ${ROUNDS:-3}); do
  for C in ${CONNS_LIST:-64 128 256}; do
    rm -f "$FLAG"; ON=$(rate $C $OURS)
    touch "$FLAG"; OFF=$(rate $C $OURS); rm -f "$FLAG"
    # Receipts fall due 1 s and 3 s after a send: let them pass before the baseline runs.
    sleep 4
    BASE=$(rate $C http://127.0.0.1:4988/v23.0/300000000000001/messages)
    awk -v r=$R -v c=$C -v on=$ON -v off=$OFF -v b=$BASE 'BEGIN {
      printf "   %5d %11d %9d %9d %11d %8.1f%% %8.1f%%\n", r, c, on, off, b, 100*on/b, 100*off/b }'
  done
done
