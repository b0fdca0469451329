#!/usr/bin/env bash
# User-space instructions per accepted send (see BENCHMARKS.md): runs `openwaba serve` under
# valgrind's callgrind, prepares USERS users as serve_load.sh does, switches instrumentation
# on, drives sends with wrk for DURATION (one connection per user batch, so the run is
# serial and slow under valgrind: a few hundred sends/s), waits for their receipts, and
# divides. Counts, not seconds: the same binary gives the same figure within ~3% whatever
# else this shared machine is doing, which wall-clock runs here cannot (they vary by 30%).
# It leaves out the kernel (TCP, fdatasync): bench/serve_cpu.sh measures everything.
# env: BIN, USERS (2000), DURATION (20s), PORT (4991), OUT (callgrind file, kept for
# callgrind_annotate)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "$0 needs valgrind (Debian: apt-get install valgrind)" >&2; exit 2; }
BIN=${BIN:-target/release/openwaba}
USERS=${USERS:-2000}
PORT=${PORT:-4991}
source bench/serve_common.sh
OUT=${OUT:-$(mktemp /tmp/openwaba-callgrind.XXXXXX)}
DATA=$(mktemp -d)
# shellcheck disable=SC2086 # SERVER_ENV is a list of assignments, split on purpose
env $SERVER_ENV valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
  "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >/dev/null 2>"$OUT.log" &
VG=$!
trap 'kill $VG 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 300); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.2; done
python3 bench/prepare_users.py $PORT $USERS
# The preparation's own receipts fall due first.
sleep 5
S0=$(accepted_sends $PORT)
callgrind_control -i on $VG >/dev/null
OPENWABA_USERS=$USERS wrk -t1 -c16 -d${DURATION:-20s} -s bench/send.lua \
  http://127.0.0.1:$PORT/v23.0/300000000000001/messages >/dev/null
# Each send's delivered and read receipts (1 s and 3 s later) are part of its cost.
sleep 6
callgrind_control -i off $VG >/dev/null
S1=$(accepted_sends $PORT)
kill $VG; wait $VG || true
N=$((S1 - S0))
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | awk -v n=$N '
  # A function shows on several lines (one per source file inlined into it): take the largest.
  function per(label, pat,  i, m) { m = 0; for (i = 1; i <= rows; i++) if (line[i] ~ pat && val[i] > m) m = val[i]; printf "  %-34s %8.0f\n", label, m / n }
  /\(/ { rows++; v = $1; gsub(",", "", v); val[rows] = v + 0; line[rows] = $0 }
  END {
    printf "%d sends, user-space instructions per send:\n", n
    per("all", "PROGRAM TOTALS")
    per("store writer thread", "sqlite.rs:std::sys::backtrace::__rust_begin_short_backtrace")
    # Since the eighth session a send reaches the handler from the connection (http.rs), not
    # through the axum router; the older patterns still find it in older binaries.
    per("Graph API handler", "(api.rs:(openwaba_server::api::dispatch::|<F as axum::handler::Handler)|http.rs:openwaba_server::http::handle::)")
    per("  send body parsing", "send_body.rs:openwaba_server::send_body::parse_send_body")
    per("  engine, record, commit", "api.rs:openwaba_server::api::decide_and_record::")
    per("receipts (scheduler)", "scheduler.rs:openwaba_server::scheduler::flush_receipts::")
  }'
echo "callgrind data: $OUT (callgrind_annotate --inclusive=yes $OUT)"
