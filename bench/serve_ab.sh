#!/usr/bin/env bash
# Two variants of `openwaba serve` against each other and the bare axum hello-world (see
# BENCHMARKS.md), for changes whose effect is smaller than the box's drift between runs: both
# servers run side by side on fresh data directories, and each round drives A, then B, then
# the hello-world with the same wrk load at each connection count, so drift falls on all three
# alike; the summary gives each variant's median share. A variant is a binary (BIN_A, BIN_B)
# and an environment (ENV_A, ENV_B: "NAME=value ..."), so an experiment's knob can be an
# environment variable of one build. Rates are *accepted* sends (from /metrics); a `!` marks
# a run with refused answers. env: ROUNDS (3), CONNS_LIST ("128 256"), DURATION (8, seconds),
# USERS (200000: each user gets ~11 messages a round and earns ~14 back, under the pair limit).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
export USERS=${USERS:-200000}
BIN_A=${BIN_A:-target/release/openwaba}
BIN_B=${BIN_B:-target/release/openwaba}
source bench/serve_common.sh
PIDS=()
DIRS=()
WRK_OUT=$(mktemp)
ROWS=$(mktemp)
trap 'kill ${PIDS[@]} 2>/dev/null || true; rm -rf "${DIRS[@]}" "$WRK_OUT" "$ROWS"' EXIT
start() { launch_server "$@"; PIDS+=($LAUNCHED); DIRS+=("$LAUNCHED_DIR"); }
start 4987 "$BIN_A" "${ENV_A:-}"
start 4989 "$BIN_B" "${ENV_B:-}"
start_hello
PIDS+=($HELLO)
# ours PORT CONNS: accepted sends per second over one wrk run, then the receipts' pause.
ours() {
  accepted_rate "$@"
  # Receipts fall due 1 s and 3 s after a send: let them pass before the next run.
  sleep 4
}
echo "   round connections         A         B hello-world   share-A  share-B"
for R in $(seq ${ROUNDS:-3}); do
  for C in ${CONNS_LIST:-128 256}; do
    A=$(ours 4987 $C); B=$(ours 4989 $C)
    BASE=$(hello_rate $C)
    echo "$C ${A%!} ${B%!} $BASE" >> "$ROWS"
    awk -v r=$R -v c=$C -v a=$A -v b=$B -v h=$BASE 'BEGIN {
      printf "   %5d %11d %9s %9s %11d %8.1f%% %7.1f%%\n", r, c, a, b, h, 100*a/h, 100*b/h }'
  done
done
echo "   (a ! marks a run with refused answers: its figure counts only the accepted sends)"
python3 - "$ROWS" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
a = [r[1] / r[3] for r in rows]; b = [r[2] / r[3] for r in rows]
ba = [r[2] / r[1] for r in rows]
print(f"   median share: A {100 * statistics.median(a):.1f}%, B {100 * statistics.median(b):.1f}%;"
      f" B/A median {statistics.median(ba):.3f} (range {min(ba):.3f}-{max(ba):.3f}), {len(rows)} pairs")
PY
