#!/usr/bin/env bash
# `make run`: a demo certctl on this machine (SQLite + the filesystem broker, no server needed):
# migrate, collect static files, load demo data, create the admin user and an API key, then run the web
# server, a Celery worker, Celery beat, the demo receiver and the demo TLS lab in the foreground. Ctrl-C, closing the terminal
# or SIGTERM stops them all. One `make run` per data dir: a second one says so and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
export PYTHON="$PWD/$venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="$venv/bin/python"
source scripts/run-env.sh

mkdir -p "$CERTCTL_DATA_DIR"
# The lock lives as long as this process and, after `exec`, the supervisor: the kernel drops it when they end,
# however they end, so it never goes stale. Children do not inherit it (the supervisor closes it for them).
exec 9>>"$CERTCTL_DATA_DIR/run.lock"
if ! "$PYTHON" -c 'import fcntl, sys
try:
    fcntl.flock(9, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(3)'; then
    running=$(cat "$CERTCTL_DATA_DIR/run.pid" 2>/dev/null || echo "unknown")
    echo "make run: certctl is already running with the data dir $CERTCTL_DATA_DIR (pid $running)." >&2
    echo "make run: stop it first (Ctrl-C in its terminal, or: kill $running)." >&2
    exit 1
fi
echo $$ >"$CERTCTL_DATA_DIR/run.pid"

ports=("CERTCTL_PORT=$CERTCTL_PORT")
for offset in 0 1 2 3; do
    ports+=("CERTCTL_DEMO_TLS_LAB_PORT=$((10#$CERTCTL_DEMO_TLS_LAB_PORT + offset))")
done
if ((${#demo_channels[@]})); then
    ports+=("CERTCTL_DEMO_RECEIVER_HTTP_PORT=$CERTCTL_DEMO_RECEIVER_HTTP_PORT")
    ports+=("CERTCTL_DEMO_RECEIVER_SMTP_PORT=$CERTCTL_DEMO_RECEIVER_SMTP_PORT")
fi
busy=$("$PYTHON" - "${ports[@]}" <<'PY'
import socket
import sys

for setting in sys.argv[1:]:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", int(setting.split("=")[1])))
        except OSError:
            print(setting)
PY
)
if [ -n "$busy" ]; then
    for setting in $busy; do
        echo "make run: port ${setting#*=} on 127.0.0.1 (${setting%%=*}) is in use: another make run with another data dir, or another program." >&2
    done
    echo "make run: stop that program, or choose free ports, e.g. CERTCTL_PORT=8010 make run." >&2
    exit 1
fi
write_run_env

"$PYTHON" manage.py migrate --no-input -v 0
"$PYTHON" manage.py collectstatic --no-input -v 0
"$PYTHON" manage.py seed_demo
# One expiry check now (beat's first one comes after CERTCTL_RENEWAL_CHECK_INTERVAL): the demo's alerts are
# queued before the worker starts, so they arrive in the Inbox within seconds. Deduplicated on later runs.
"$PYTHON" manage.py check_expiring >/dev/null
"$PYTHON" manage.py prepare_run --base-url "$CERTCTL_PUBLIC_URL"
skip=()
((${#demo_channels[@]})) || skip=(--skip receiver)
exec "$PYTHON" scripts/supervise.py ${skip[@]+"${skip[@]}"} Procfile
