#!/bin/sh
# Creates certctl's database and its two roles on a new PostgreSQL data directory (docker-compose.yml mounts this
# into /docker-entrypoint-initdb.d/; it runs once, as the superuser, when the volume is empty):
#   certctl_owner  owns the database and every table: runs `migrate`, `grant_runtime_role`, `prune_audit`
#   certctl_app    owns nothing: runs the web server, workers and beat
# Tables that migrations create get the app role's grants by default privileges (read and write rows, never
# TRUNCATE); `manage.py grant_runtime_role certctl_app`, run after every migrate, then narrows the audit table to
# SELECT, INSERT and the sealing UPDATE. See docs/audit.md, "Database roles".
# Outside Docker: PGHOST=… PGUSER=postgres CERTCTL_DB_OWNER_PASSWORD=… CERTCTL_DB_APP_PASSWORD=… sh this-file
set -eu
: "${CERTCTL_DB_OWNER_PASSWORD:?set CERTCTL_DB_OWNER_PASSWORD}"
: "${CERTCTL_DB_APP_PASSWORD:?set CERTCTL_DB_APP_PASSWORD}"
CERTCTL_DB_NAME=${CERTCTL_DB_NAME:-certctl}

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname postgres \
  -v owner_password="$CERTCTL_DB_OWNER_PASSWORD" -v app_password="$CERTCTL_DB_APP_PASSWORD" \
  -v db="$CERTCTL_DB_NAME" <<'SQL'
CREATE ROLE certctl_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE certctl_app LOGIN PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER certctl_owner;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO certctl_app;
\connect :"db"
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO certctl_app;
ALTER DEFAULT PRIVILEGES FOR ROLE certctl_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO certctl_app;
ALTER DEFAULT PRIVILEGES FOR ROLE certctl_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO certctl_app;
SQL
