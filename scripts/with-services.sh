#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL, Redis and ACME test CA (pebble) on free loopback ports; stop exactly
# those on exit. Installs the Debian packages when they are missing (needs root or sudo). Exports DATABASE_URL and
# REDIS_URL, and for the ACME tests PEBBLE_DIRECTORY_URL, PEBBLE_EAB_DIRECTORY_URL (a second pebble that requires
# External Account Binding, key PEBBLE_EAB_KID / PEBBLE_EAB_HMAC_KEY), PEBBLE_CA_BUNDLE (the CA of pebble's own
# TLS listener), PEBBLE_MANAGEMENT_URL, CHALLTESTSRV_URL (its management API), CHALLTESTSRV_DNS (host:port of its
# DNS server, for DNS-01 propagation checks) and CERTCTL_TEST_ACME_HTTP_PORT: the loopback port pebble
# validates HTTP-01 on (every name resolves to 127.0.0.1 through pebble-challtestsrv's DNS), where the tests serve
# certctl. When pebble cannot be installed the rest still runs and the ACME tests skip (or fail under CI).
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
# pebble is for the ACME tests only: a failed install leaves them to skip (or fail under CI), not the whole run.
if ! command -v pebble >/dev/null 2>&1 || ! command -v pebble-challtestsrv >/dev/null 2>&1; then
  echo "with-services: installing pebble from Debian packages"
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq pebble >/dev/null; } \
    || echo "with-services: could not install pebble; the ACME tests will skip (fail under CI)" >&2
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
  for pid_file in "$state"/*.pid; do
    [ -f "$pid_file" ] && [ "$pid_file" != "$state/redis.pid" ] || continue
    pid=$(cat "$pid_file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
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

wait_for_port() {  # port, name, log: until something listens on 127.0.0.1:port
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "with-services: $2 did not start; its log:" >&2; cat "$3" >&2; return 1
}

start_pebble() {
  local acme dir ports=() port
  acme="$state/acme"
  mkdir -p "$acme"
  # Distinct free ports: pebble, its management API, the EAB pebble and its management API, challtestsrv's DNS
  # and management API, and the HTTP-01 port the tests serve certctl on.
  while [ ${#ports[@]} -lt 7 ]; do
    port=$(free_port)
    case " ${ports[*]} $pg_port $redis_port " in *" $port "*) continue ;; esac
    ports+=("$port")
  done
  # A throwaway CA and a certificate for pebble's own HTTPS listener (the Debian package ships none).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=certctl test pebble CA" \
    -keyout "$acme/ca.key" -out "$acme/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$acme/listener.key" -out "$acme/listener.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$acme/listener.ext"
  openssl x509 -req -in "$acme/listener.csr" -CA "$acme/ca.pem" -CAkey "$acme/ca.key" -CAcreateserial -days 2 \
    -extfile "$acme/listener.ext" -out "$acme/listener.pem" 2>/dev/null
  local eab_kid=certctl-test-kid
  local eab_key
  eab_key=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
  for variant in plain eab; do
    local listen=${ports[0]} management=${ports[1]} eab_required=false mac_keys='{}'
    if [ "$variant" = eab ]; then
      listen=${ports[2]} management=${ports[3]} eab_required=true mac_keys="{\"$eab_kid\": \"$eab_key\"}"
    fi
    cat >"$acme/pebble-$variant.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$listen", "managementListenAddress": "127.0.0.1:$management",
  "certificate": "$acme/listener.pem", "privateKey": "$acme/listener.key",
  "httpPort": ${ports[6]}, "tlsPort": ${ports[6]}, "ocspResponderURL": "",
  "externalAccountBindingRequired": $eab_required, "externalAccountMACKeys": $mac_keys}}
JSON
  done
  pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:${ports[4]}" \
    -management "127.0.0.1:${ports[5]}" -http01 "" -https01 "" -tlsalpn01 "" >"$acme/challtestsrv.log" 2>&1 &
  echo $! >"$state/challtestsrv.pid"
  for variant in plain eab; do
    PEBBLE_VA_NOSLEEP=1 pebble -config "$acme/pebble-$variant.json" -dnsserver "127.0.0.1:${ports[4]}" \
      >"$acme/pebble-$variant.log" 2>&1 &
    echo $! >"$state/pebble-$variant.pid"
  done
  wait_for_port "${ports[5]}" pebble-challtestsrv "$acme/challtestsrv.log"
  wait_for_port "${ports[0]}" pebble "$acme/pebble-plain.log"
  wait_for_port "${ports[2]}" "pebble (EAB)" "$acme/pebble-eab.log"
  export PEBBLE_DIRECTORY_URL="https://127.0.0.1:${ports[0]}/dir"
  export PEBBLE_MANAGEMENT_URL="https://127.0.0.1:${ports[1]}"
  export PEBBLE_EAB_DIRECTORY_URL="https://127.0.0.1:${ports[2]}/dir"
  export PEBBLE_EAB_KID=$eab_kid PEBBLE_EAB_HMAC_KEY=$eab_key
  export PEBBLE_CA_BUNDLE="$acme/ca.pem"
  export CHALLTESTSRV_URL="http://127.0.0.1:${ports[5]}"
  export CHALLTESTSRV_DNS="127.0.0.1:${ports[4]}"
  export CERTCTL_TEST_ACME_HTTP_PORT=${ports[6]}
  echo "with-services: pebble at $PEBBLE_DIRECTORY_URL (EAB: $PEBBLE_EAB_DIRECTORY_URL), HTTP-01 on 127.0.0.1:${ports[6]}"
}
if command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1; then
  start_pebble
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/certctl"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
echo "with-services: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
"$@"
