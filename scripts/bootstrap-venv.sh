#!/usr/bin/env bash
# Create the virtualenv and install certctl with its dev dependencies (a fresh Debian may lack python3-venv).
set -euo pipefail
venv=${1:-.venv}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "bootstrap: installing python3-venv"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[dev]'
