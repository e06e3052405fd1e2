#!/usr/bin/env bash
# `make run`: a demo certctl on this machine (SQLite + the filesystem broker, no server needed):
# migrate, collect static files, load demo data, create the admin user and an API key, then run the web
# server, a Celery worker and Celery beat in the foreground. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
export PYTHON="$PWD/$venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="$venv/bin/python"
export CERTCTL_DEBUG=${CERTCTL_DEBUG:-true}
export CERTCTL_PORT=${CERTCTL_PORT:-8000}
if ! [[ "$CERTCTL_PORT" =~ ^[0-9]+$ ]] || ((10#$CERTCTL_PORT < 1 || 10#$CERTCTL_PORT > 65535)); then
    echo "make run: CERTCTL_PORT must be a port number (1-65535), got '$CERTCTL_PORT'" >&2
    exit 2
fi
export CERTCTL_PUBLIC_URL=${CERTCTL_PUBLIC_URL:-http://127.0.0.1:$CERTCTL_PORT}

"$PYTHON" manage.py migrate --no-input -v 0
"$PYTHON" manage.py collectstatic --no-input -v 0
"$PYTHON" manage.py seed_demo
"$PYTHON" manage.py prepare_run --base-url "$CERTCTL_PUBLIC_URL"
exec "$PYTHON" scripts/supervise.py Procfile
