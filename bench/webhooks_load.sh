#!/usr/bin/env bash
# Webhook pipeline benchmark (see BENCHMARKS.md): a local receiver answers 200 at once; every
# send yields three signed status webhooks (sent, delivered after 200 ms, read 200 ms later).
# For each rate, loadgen sends open-loop for DURATION seconds; then we wait for the backlog to
# drain and read the delivery-lag histogram from /metrics (cause -> HTTP 200, server clock),
# as a difference from a snapshot taken after the preparation (the load alone), and how late
# the simulated receipts fired (their due instant -> report).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-20000}
SECS=${SECS:-10}
PORT=${PORT:-4986}
SINK=${SINK:-4989}
BIN=${BIN:-target/release/openwaba}
# The server binary too: `--examples` alone leaves target/release/openwaba as it was.
[ "$BIN" = target/release/openwaba ] && cargo build --release -q -p openwaba --bin openwaba
cargo build --release -q -p openwaba-server --example webhook_sink --example loadgen
target/release/examples/webhook_sink $SINK &
SINKPID=$!
trap 'kill $SINKPID $SERVER 2>/dev/null || true; rm -rf "${DATA:-}"' EXIT
for RATE in ${RATES:-2000 5000}; do
  DATA=$(mktemp -d)
  OPENWABA_ACCESS_TOKEN=bench-token OPENWABA_ADMIN_TOKEN=bench-admin \
  OPENWABA_WABA_ID=200000000000001 OPENWABA_PHONE_NUMBER_ID=300000000000001 \
  OPENWABA_THROUGHPUT_MPS=1000000 OPENWABA_LOG=warn \
  OPENWABA_APP_ID=400000000000001 OPENWABA_APP_SECRET=bench-secret OPENWABA_VERIFY_TOKEN=vt \
  OPENWABA_WEBHOOK_URL=http://127.0.0.1:$SINK/hook OPENWABA_WEBHOOK_CONCURRENCY=${CONCURRENCY:-16} \
    "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >/dev/null &
  SERVER=$!
  for _ in $(seq 100); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
  python3 bench/prepare_users.py $PORT $USERS --receipts 200ms
  before=$(curl -s localhost:$SINK/count)
  METRICS_BEFORE=$(mktemp)
  curl -s localhost:$PORT/metrics > "$METRICS_BEFORE"
  target/release/examples/loadgen http://127.0.0.1:$PORT/v23.0/300000000000001/messages $RATE $SECS $USERS bench-token
  # The last sends' receipts fall due up to 400 ms after loadgen ends (the scheduler's queue,
  # not the webhook backlog): let them happen before asking whether the backlog drained.
  sleep 1
  for _ in $(seq 60); do
    backlog=$(curl -s -H 'Authorization: Bearer bench-admin' "localhost:$PORT/_admin/webhooks?limit=1" | python3 -c 'import sys,json; print(json.load(sys.stdin)["backlog"])')
    [ "$backlog" = 0 ] && break; sleep 1
  done
  after=$(curl -s localhost:$SINK/count)
  echo "rate=$RATE/s sink before=$before after=$after backlog=$backlog"
  python3 -c 'import json,sys; b,a,n=json.loads(sys.argv[1]),json.loads(sys.argv[2]),int(sys.argv[3]); got=a["posts"]-b["posts"]; print(f"expected={3*n} received={got} lost={3*n-got}")' "$before" "$after" $((RATE * SECS))
  curl -s localhost:$PORT/metrics | python3 bench/lag_summary.py "$METRICS_BEFORE"
  rm -f "$METRICS_BEFORE"
  kill $SERVER; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"
done
