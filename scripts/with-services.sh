#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL and Redis on free loopback ports; stop exactly those on exit.
# Installs the Debian packages when they are missing (needs root or sudo). Exports DATABASE_URL and REDIS_URL.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

need_apt=()
[ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "with-services: installing ${need_apt[*]} from Debian packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
bindir=$(pg_bindir)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
pg_port=$(free_port)
redis_port=$(free_port)
while [ "$redis_port" = "$pg_port" ]; do redis_port=$(free_port); done

mkdir -p "$root/.tmp"
state_base="$root/.tmp"
run_pg=()
if [ "$(id -u)" = 0 ]; then
  run_pg=(runuser -u postgres --)
  # As root the server runs as postgres, which must reach its data directory: a checkout under a private
  # directory (mktemp -d makes them 0700) keeps it out, so the state goes to the system temp directory then.
  chmod 755 "$root/.tmp"
  "${run_pg[@]}" test -x "$root/.tmp" || state_base=${TMPDIR:-/tmp}
fi
state=$(mktemp -d "$state_base/services.XXXXXX")
pgdata="$state/pg"
if [ "$(id -u)" = 0 ]; then
  chown postgres "$state" 2>/dev/null || true
  chmod 755 "$state"
fi

cleanup() {
  status=$?
  if [ -f "$pgdata/postmaster.pid" ]; then
    "${run_pg[@]}" "$bindir/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$state/redis.pid" ]; then
    redis_pid=$(cat "$state/redis.pid")
    kill "$redis_pid" 2>/dev/null || true
    # Wait until it is gone, so nothing of ours still holds its port when this script returns.
    for _ in $(seq 100); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$state"
  exit $status
}
trap cleanup EXIT INT TERM

"${run_pg[@]}" "$bindir/initdb" -D "$pgdata" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
"${run_pg[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w start -o \
  "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
"${run_pg[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres certctl
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$state/redis.pid" --logfile "$state/redis.log" --dir "$state"
for _ in $(seq 50); do [ -s "$state/redis.pid" ] && break; sleep 0.1; done

export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/certctl"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
echo "with-services: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
"$@"
