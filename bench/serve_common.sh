# Sourced by serve_load.sh and serve_cpu.sh: starts `openwaba serve` on a fresh data
# directory with the benchmark's fixed ids and tokens and a throughput limit out of the way,
# then prepares USERS simulated users (opt-in, open window; receipts as RECEIPTS says).
# Sets SERVER (pid) and DATA; the caller's EXIT trap must `stop_server`.
# env: USERS, PORT, BIN, RECEIPTS (auto|manual)
command -v wrk >/dev/null || { echo "$0 needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }
USERS=${USERS:-50000}
PORT=${PORT:-4987}
BIN=${BIN:-target/release/openwaba}
RECEIPTS=${RECEIPTS:-auto}

start_server() {
  DATA=$(mktemp -d)
  OPENWABA_ACCESS_TOKEN=bench-token OPENWABA_ADMIN_TOKEN=bench-admin \
  OPENWABA_WABA_ID=200000000000001 OPENWABA_PHONE_NUMBER_ID=300000000000001 \
  OPENWABA_THROUGHPUT_MPS=1000000 OPENWABA_LOG=warn \
    "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >/dev/null &
  SERVER=$!
  for _ in $(seq 100); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
  if [ "$RECEIPTS" = auto ]; then python3 bench/prepare_users.py $PORT $USERS
  else python3 bench/prepare_users.py $PORT $USERS --receipts "$RECEIPTS"; fi
}

stop_server() {
  kill ${SERVER:-} 2>/dev/null || true
  rm -rf "${DATA:-}"
}
