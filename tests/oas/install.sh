#!/usr/bin/env bash
# Installs the pinned dependencies of tests/oas/validate.py into a local venv,
# tests/oas/.venv (nothing global; only PyPI is contacted).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
echo "==> tests/oas/.venv: $(grep -E '^[A-Za-z]' requirements.txt | tr '\n' ' ')"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -c 'import jsonschema, yaml, referencing; from importlib.metadata import version; print("jsonschema", version("jsonschema"), "PyYAML", yaml.__version__)'
