#!/usr/bin/env bash
# Runs the real WhatsApp Cloud API client libraries (unmodified) against `openwaba serve`.
# Builds and installs nothing: CI runs tests/clients/install.sh first; the binary comes
# from OPENWABA_BIN (default target/release/openwaba, relative to the repository root).
#
# Starts two servers on free loopback ports (port 0, address read from the JSON log),
# each with a temporary data directory and fixed ids/tokens: the main one, and a second
# one with OPENWABA_THROUGHPUT_MPS=1 for the 130429 checks. Then runs each client test,
# prints one line per client and a final "N passed, M failed" line; exit status 1 if any
# client failed. A client whose runtime or package is missing counts as failed.
# CLIENTS="pywa kapso" limits the run; VERBOSE=1 prints every check line.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

BIN="${OPENWABA_BIN:-target/release/openwaba}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
if [ ! -x "$BIN" ]; then
  echo "openwaba binary not found at $BIN (set OPENWABA_BIN; run cargo build --release)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

export OPENWABA_ACCESS_TOKEN="clients-test-token"
export OPENWABA_ADMIN_TOKEN="clients-admin-token"
export OPENWABA_WABA_ID="200000000000001"
export OPENWABA_PHONE_NUMBER_ID="300000000000001"
export OPENWABA_PHONE_NUMBER="15550001111"
export PYTHONDONTWRITEBYTECODE=1  # keep tests/clients free of __pycache__
export OPENWABA_LOG="${OPENWABA_LOG:-info}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/openwaba-clients.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME MPS -> sets $BASE_URL
start_server() {
  local name="$1" mps="$2" log="$WORK/$1.log" addr="" i
  mkdir -p "$WORK/$name-data"
  OPENWABA_THROUGHPUT_MPS="$mps" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name-data" \
    --log-format json >"$log" 2>"$WORK/$name.err" &
  PIDS+=("$!")
  for i in $(seq 1 100); do
    addr="$(grep -o '"address":"[^"]*"' "$log" 2>/dev/null | head -n1 | cut -d'"' -f4)"
    if [ -n "$addr" ] && curl -fsS "http://$addr/healthz" >/dev/null 2>&1; then
      BASE_URL="http://$addr"
      return 0
    fi
    sleep 0.1
  done
  echo "server $name did not become healthy; log:" >&2
  cat "$log" "$WORK/$name.err" >&2
  return 1
}

command -v curl >/dev/null || { echo "curl is required" >&2; echo "0 passed, 1 failed"; exit 1; }
start_server main 1000 || { echo "0 passed, 1 failed"; exit 1; }
export OPENWABA_BASE="$BASE_URL"
start_server throttled 1 || { echo "0 passed, 1 failed"; exit 1; }
export OPENWABA_BASE_THROTTLED="$BASE_URL"
echo "openwaba: $OPENWABA_BASE (throttled: $OPENWABA_BASE_THROTTLED)"

PY="$HERE/.venv/bin/python"
NODE_DIR="$HERE/node"
passed=0
failed=0

# run_client NAME KIND(py|node) SCRIPT PACKAGE
run_client() {
  local name="$1" kind="$2" script="$3" pkg="$4" out="$WORK/client-$1.out" rc summary
  local -a cmd
  if [ "$kind" = py ]; then
    if [ ! -x "$PY" ] || ! "$PY" -c "import $pkg" >/dev/null 2>&1; then
      printf 'FAIL  %-14s client missing: python package %s not in %s (run tests/clients/install.sh)\n' "$name" "$pkg" "$HERE/.venv"
      failed=$((failed + 1)); return
    fi
    cmd=("$PY" "$HERE/$script")
  else
    if ! command -v node >/dev/null 2>&1; then
      printf 'FAIL  %-14s client missing: node not on PATH\n' "$name"
      failed=$((failed + 1)); return
    fi
    if [ ! -f "$NODE_DIR/node_modules/$pkg/package.json" ]; then
      printf 'FAIL  %-14s client missing: npm package %s not in %s (run tests/clients/install.sh)\n' "$name" "$pkg" "$NODE_DIR/node_modules"
      failed=$((failed + 1)); return
    fi
    cmd=(node "$NODE_DIR/$script")
  fi
  (cd "$HERE" && timeout 120 "${cmd[@]}") >"$out" 2>&1
  rc=$?
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)"
  [ -n "$summary" ] || summary="no summary (exit $rc)"
  if [ "$rc" -eq 0 ] && grep -qE '^[0-9]+ passed, 0 failed$' "$out"; then
    printf 'PASS  %-14s %s\n' "$name" "$summary"
    passed=$((passed + 1))
    [ "${VERBOSE:-0}" = 1 ] && sed 's/^/      /' "$out"
  else
    printf 'FAIL  %-14s %s\n' "$name" "$summary"
    sed 's/^/      /' "$out"
    failed=$((failed + 1))
  fi
}

want() { [ -z "${CLIENTS:-}" ] || [[ " $CLIENTS " == *" $1 "* ]]; }
want pywa         && run_client pywa         py   pywa_test.py          pywa
want heyoo        && run_client heyoo        py   heyoo_test.py         heyoo
want wajs         && run_client wajs         node wajs_test.mjs         whatsapp-api-js
want great-detail && run_client great-detail node great_detail_test.mjs @great-detail/whatsapp
want kapso        && run_client kapso        node kapso_test.mjs        @kapso/whatsapp-cloud-api
# webhooks.py starts its own openwaba (virtual clock, three apps) and receivers built with
# pywa (FastAPI/uvicorn) and whatsapp-api-js (node:http); it needs node and node_modules too.
want webhooks     && run_client webhooks     py   webhooks.py           "pywa, fastapi, uvicorn"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
