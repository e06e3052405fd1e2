"""PostgreSQL refuses UPDATE and DELETE on the audit table for every role (no-op on SQLite).

The one UPDATE allowed is sealing: setting the chain columns (seq, prev_hash, row_hash) of a row that has no
`seq` yet, with every content column unchanged. A sealed row can never change again.

Only a role that owns the table can lift this (ALTER TABLE ... DISABLE TRIGGER), which `prune_audit` does
inside its own transaction; see docs/audit.md.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
        AND NEW.id = OLD.id AND NEW.actor = OLD.actor AND NEW.actor_type = OLD.actor_type
        AND NEW.action = OLD.action AND NEW.resource_type = OLD.resource_type
        AND NEW.resource_id = OLD.resource_id AND NEW.timestamp = OLD.timestamp
        AND NEW.details IS NOT DISTINCT FROM OLD.details THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_audit_hash_chain")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
