# Sourced by the serve_* benchmarks: starts `openwaba serve` on a fresh data directory with
# the benchmark's fixed ids and tokens and a throughput limit out of the way, then prepares
# USERS simulated users (opt-in, open window; receipts as RECEIPTS says).
# start_server sets SERVER (pid) and DATA; the caller's EXIT trap must `stop_server`.
# env: USERS, PORT, BIN, RECEIPTS (auto|manual), SERVER_LOG (where the servers' logs go;
# /dev/null by default; with OPENWABA_LOG=warn they hold the store's slow steps)
command -v wrk >/dev/null || { echo "$0 needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }
USERS=${USERS:-50000}
PORT=${PORT:-4987}
BIN=${BIN:-target/release/openwaba}
RECEIPTS=${RECEIPTS:-auto}
# The server's fixed ids and tokens, and a throughput limit out of the way, as `env`
# arguments (serve_instructions.sh starts its server under valgrind with them too).
SERVER_ENV="OPENWABA_ACCESS_TOKEN=bench-token OPENWABA_ADMIN_TOKEN=bench-admin
  OPENWABA_WABA_ID=200000000000001 OPENWABA_PHONE_NUMBER_ID=300000000000001
  OPENWABA_THROUGHPUT_MPS=1000000 OPENWABA_LOG=warn"
# The bare axum hello-world, the baseline of every share.
HELLO_PORT=4988

# launch_server PORT BIN [ENV]: one server (ENV: extra "NAME=value ..." for its environment)
# with USERS users prepared; sets LAUNCHED (pid) and LAUNCHED_DIR (its data directory), which
# the caller must kill and remove.
launch_server() {
  LAUNCHED_DIR=$(mktemp -d)
  # shellcheck disable=SC2086 # ENV and SERVER_ENV are lists of assignments, split on purpose
  env ${3:-} $SERVER_ENV "$2" serve --listen 127.0.0.1:$1 --data-dir "$LAUNCHED_DIR" >>"${SERVER_LOG:-/dev/null}" &
  LAUNCHED=$!
  for _ in $(seq 100); do curl -sf localhost:$1/healthz >/dev/null && break; sleep 0.1; done
  curl -sf localhost:$1/healthz >/dev/null \
    || { echo "$0: $2 did not answer on port $1 within 10 s" >&2
         kill $LAUNCHED 2>/dev/null; rm -rf "$LAUNCHED_DIR"; return 1; }
  if [ "$RECEIPTS" = auto ]; then python3 bench/prepare_users.py $1 $USERS
  else python3 bench/prepare_users.py $1 $USERS --receipts "$RECEIPTS"; fi
}

start_server() {
  launch_server $PORT "$BIN"
  SERVER=$LAUNCHED
  DATA=$LAUNCHED_DIR
}

# start_hello: builds the hello-world and starts it on HELLO_PORT; sets HELLO (pid), which
# the caller's EXIT trap must kill.
start_hello() {
  cargo build --release -q -p openwaba-server --example hello
  target/release/examples/hello $HELLO_PORT &
  HELLO=$!
  for _ in $(seq 100); do curl -sf -X POST localhost:$HELLO_PORT/ >/dev/null && break; sleep 0.1; done
  curl -sf -X POST localhost:$HELLO_PORT/ >/dev/null \
    || { echo "$0: the hello-world did not answer on port $HELLO_PORT within 10 s" >&2
         kill $HELLO 2>/dev/null; return 1; }
}

stop_server() {
  kill ${SERVER:-} 2>/dev/null || true
  rm -rf "${DATA:-}"
}

# accepted_sends PORT: the server's accepted sends so far (from /metrics; refusals excluded,
# so a run that trips a limit is not counted as throughput).
accepted_sends() {
  curl -s localhost:$1/metrics | awk '/^openwaba_sends_total/ && !/rejected/ {s+=$2} END {print s+0}'
}

# wrk_run CONNS URL: wrk with send.lua for DURATION seconds against URL, its output in WRK_OUT
# (which the caller makes and removes).
wrk_run() {
  OPENWABA_USERS=$USERS wrk -t2 -c$1 -d${DURATION}s --latency -s bench/send.lua "$2" > "$WRK_OUT"
}

# refused: the answers of the last wrk_run that were not 200.
refused() { awk '/Non-2xx/ {n=$NF} END {print n+0}' "$WRK_OUT"; }

# accepted_rate PORT CONNS: the accepted sends per second of one wrk_run against the server
# on PORT, from its /metrics, so that refused answers (cheaper than a send) never count as
# throughput; followed by a `!` when some answers were refused.
accepted_rate() {
  local before mark=""; before=$(accepted_sends $1)
  wrk_run $2 http://127.0.0.1:$1/v23.0/300000000000001/messages
  [ "$(refused)" -gt 0 ] && mark="!"
  echo "$(( ($(accepted_sends $1) - before) / DURATION ))$mark"
}

# hello_rate CONNS: the hello-world's requests per second over one wrk_run.
hello_rate() {
  wrk_run $1 http://127.0.0.1:$HELLO_PORT/v23.0/300000000000001/messages
  awk '/^Requests\/sec/ {printf "%d", $2}' "$WRK_OUT"
}
