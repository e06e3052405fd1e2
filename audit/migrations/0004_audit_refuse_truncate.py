"""PostgreSQL refuses TRUNCATE of the audit table for every role, as 0003 refuses UPDATE and DELETE (no-op on
SQLite). A row trigger never sees TRUNCATE, so this is a statement-level trigger. Like the other, only a role
that owns the table can lift it (ALTER TABLE ... DISABLE TRIGGER audit_no_truncate); see docs/audit.md.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused' USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_truncate();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_audit_append_only_trigger")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
