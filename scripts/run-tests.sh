#!/usr/bin/env bash
# The whole check, run by `make test` inside scripts/with-services.sh (PostgreSQL + Redis already up).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
export CERTCTL_DEBUG=true CERTCTL_DATA_DIR="${CERTCTL_DATA_DIR:-$PWD/.tmp/test-data}"

"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/lint-imports" --no-cache  # the layer contracts of .importlinter (docs/architecture.md)
"$venv/bin/python" manage.py makemigrations --check --dry-run
scripts/ensure-chromium.sh  # Debian's Chromium for tests/browser/, installed when missing
"$venv/bin/python" -m pytest "$@"
