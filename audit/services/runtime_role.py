"""Grants of the runtime database role: what the web server, workers and beat may do, and no more.

Migrations run as the owner role; the runtime role owns nothing, so it can never lift the audit table's
append-only triggers (only an owner can `ALTER TABLE … DISABLE TRIGGER`). On ordinary tables it reads and writes
rows; on `audit_auditevent` it may only read, insert, and seal (UPDATE of the chain columns, which the trigger
further limits to unsealed rows). Run after every `migrate`, by the owner: new tables get their grants and the
audit table loses the DELETE that the schema-wide default privileges gave it.
"""

from __future__ import annotations

import re

from django.db import connection, transaction

from audit.models import AuditEvent

ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
AUDIT_PRIVILEGES = "SELECT, INSERT"
SEAL_COLUMNS = ("seq", "prev_hash", "row_hash")


class RuntimeRoleRefused(Exception):
    """The role does not exist, or it could lift the audit triggers (superuser, owner or member of the owner)."""


def grant_runtime_role(role: str) -> str:
    """Grant `role` the runtime privileges in the current schema and return the schema; idempotent.

    PostgreSQL only. Refuses a role that is a superuser or can act as the audit table's owner: granting it less
    would change nothing, and the deployment would believe it is protected.
    """
    if not ROLE_NAME.fullmatch(role):
        raise RuntimeRoleRefused(f"{role!r} is not a plain PostgreSQL role name")
    table = AuditEvent._meta.db_table
    quoted_role, quoted_table = connection.ops.quote_name(role), connection.ops.quote_name(table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolsuper, pg_has_role(r.oid, c.relowner, 'MEMBER'), current_schema() "
            "FROM pg_roles r, pg_class c WHERE r.rolname = %s AND c.oid = %s::regclass",
            [role, table],
        )
        found = cursor.fetchone()
        if found is None:
            raise RuntimeRoleRefused(f"role {role} does not exist: create it first (contrib/postgres/)")
        superuser, owner, schema = found
        if superuser or owner:
            raise RuntimeRoleRefused(
                f"role {role} is a superuser or can act as the owner of {table}: it could lift the audit "
                "triggers; use a role that owns nothing (docs/audit.md, 'Database roles')"
            )
        quoted_schema = connection.ops.quote_name(schema)
        seal_columns = ", ".join(SEAL_COLUMNS)
        for statement in (
            f"GRANT USAGE ON SCHEMA {quoted_schema} TO {quoted_role}",
            f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {quoted_schema} FROM {quoted_role}",
            f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {quoted_schema} TO {quoted_role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quoted_schema} TO {quoted_role}",
            # Revoking table privileges also drops column grants, so the audit grants below are exactly these.
            f"REVOKE ALL ON {quoted_table} FROM {quoted_role}",
            f"GRANT {AUDIT_PRIVILEGES} ON {quoted_table} TO {quoted_role}",
            f"GRANT UPDATE ({seal_columns}) ON {quoted_table} TO {quoted_role}",
        ):
            cursor.execute(statement)
    return schema
