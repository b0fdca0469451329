#!/usr/bin/env bash
# Installs the pinned real WhatsApp Cloud API clients into local directories under
# tests/clients (nothing global): a Python venv in tests/clients/.venv and
# node_modules in tests/clients/node. Only PyPI and npm are contacted.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
echo "==> python clients (.venv): pywa==4.5.0 heyoo==0.1.2"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -c 'import pywa, heyoo, httpx, requests; print("pywa", pywa.__version__)'

echo "==> node clients (node/node_modules)"
cd node
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
node -e 'for (const p of ["whatsapp-api-js","@great-detail/whatsapp","@kapso/whatsapp-cloud-api"]) console.log(p, require("./node_modules/"+p+"/package.json").version)'
