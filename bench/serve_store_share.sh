#!/usr/bin/env bash
# What the durable store costs, as a share of the hello-world (see BENCHMARKS.md): one
# `openwaba serve`, built with the store's `bench-skip-writes` feature, is driven by wrk
# with its store on (every send committed, durable, as in serve_load.sh) and then off (the
# writer answers every job at once and writes nothing), then the bare axum hello-world
# under the same load; ROUNDS times at each connection count of CONNS_LIST, alternated in
# one run so that the box's drift falls on all three alike. The store-off figure is the
# most this build's HTTP, parsing, rules and receipts path can give, whatever the store.
# The switch costs the store-on runs one stat(2) per commit, so their figure is, if anything,
# slightly low. Never run such a build for real traffic. openwaba's rate is its *accepted* sends (from
# /metrics), and a run whose answers were not all 200 is marked: a user written to more than
# 45 times in a burst trips the pair limit (131056), whose cheap refusals wrk would count as
# throughput. Hence 200k users by default: each gets ~11 messages a round of 3 counts and
# earns ~14 back in it. env: ROUNDS (3), CONNS_LIST ("64 128 256"), DURATION (8, seconds),
# USERS (200000), and those of serve_common.sh (its BIN is set here).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
export USERS=${USERS:-200000}
cargo build --release -q --target-dir target/bench-skip -p openwaba -p openwaba-store \
  --features openwaba-store/bench-skip-writes
BIN=target/bench-skip/release/openwaba
FLAG=$(mktemp -u /tmp/openwaba-skip-writes.XXXXXX)
export OPENWABA_BENCH_SKIP_WRITES_FLAG=$FLAG
source bench/serve_common.sh
WRK_OUT=$(mktemp)
trap 'kill ${HELLO:-} 2>/dev/null || true; stop_server; rm -f "$FLAG" "$WRK_OUT"' EXIT
start_hello
start_server
ours() { accepted_rate $PORT $1; }
echo "   round connections  store-on store-off hello-world  share-on share-off"
for R in $(seq ${ROUNDS:-3}); do
  for C in ${CONNS_LIST:-64 128 256}; do
    rm -f "$FLAG"; ON=$(ours $C)
    touch "$FLAG"; OFF=$(ours $C); rm -f "$FLAG"
    # Receipts fall due 1 s and 3 s after a send: let them pass before the baseline runs.
    sleep 4
    BASE=$(hello_rate $C)
    awk -v r=$R -v c=$C -v on=$ON -v off=$OFF -v b=$BASE 'BEGIN {
      printf "   %5d %11d %9s %9s %11d %8.1f%% %8.1f%%\n", r, c, on, off, b, 100*on/b, 100*off/b }'
  done
done
echo "   (a ! marks a run with refused answers: its figure counts only the accepted sends)"
