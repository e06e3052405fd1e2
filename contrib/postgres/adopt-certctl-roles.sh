#!/bin/sh
# Moves an existing certctl database (everything owned by one superuser, as docker-compose.yml set it up before the
# database roles) to the two roles of initdb-certctl-roles.sh: creates certctl_owner and certctl_app if missing,
# makes certctl_owner own the database, its schema and its tables, and sets the same default privileges. Then run
# `migrate` and `grant_runtime_role certctl_app` as certctl_owner (the compose `migrate` service does). Idempotent.
#   docker compose exec -T -e CERTCTL_DB_OWNER_PASSWORD -e CERTCTL_DB_APP_PASSWORD -e PGUSER=certctl postgres \
#     sh < contrib/postgres/adopt-certctl-roles.sh
# REASSIGN OWNED is not used: it refuses objects of the bootstrap superuser, which the old compose user is.
set -eu
: "${CERTCTL_DB_OWNER_PASSWORD:?set CERTCTL_DB_OWNER_PASSWORD}"
: "${CERTCTL_DB_APP_PASSWORD:?set CERTCTL_DB_APP_PASSWORD}"
CERTCTL_DB_NAME=${CERTCTL_DB_NAME:-certctl}

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${PGUSER:-postgres}" --dbname "$CERTCTL_DB_NAME" \
  -v owner_password="$CERTCTL_DB_OWNER_PASSWORD" -v app_password="$CERTCTL_DB_APP_PASSWORD" \
  -v db="$CERTCTL_DB_NAME" <<'SQL'
SELECT format('CREATE ROLE certctl_owner LOGIN PASSWORD %L', :'owner_password')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'certctl_owner') \gexec
SELECT format('CREATE ROLE certctl_app LOGIN PASSWORD %L', :'app_password')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'certctl_app') \gexec
ALTER DATABASE :"db" OWNER TO certctl_owner;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO certctl_app;
ALTER SCHEMA public OWNER TO certctl_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO certctl_app;
-- Tables (their identity sequences follow), views, free-standing sequences and the audit trigger functions.
SELECT format('ALTER %s %s OWNER TO certctl_owner',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                             ELSE 'TABLE' END, c.oid::regclass)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    \gexec
SELECT format('ALTER FUNCTION %s OWNER TO certctl_owner', p.oid::regprocedure)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' \gexec
ALTER DEFAULT PRIVILEGES FOR ROLE certctl_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO certctl_app;
ALTER DEFAULT PRIVILEGES FOR ROLE certctl_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO certctl_app;
SQL
