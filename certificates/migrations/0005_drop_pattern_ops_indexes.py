"""Drop the `*_like` (varchar_pattern_ops) indexes Django adds beside every indexed CharField on PostgreSQL.

They serve only case-sensitive `LIKE 'prefix%'` queries. certctl's identifiers are opaque (`cert-01…`) and
never prefix-searched (admin and API searches are case-insensitive and cannot use them), yet every INSERT and
every non-HOT UPDATE maintains them: a certificate activated on issuance updated 20 indexes, 8 of them these.
`tests/certificates/inventory/test_schema_storage.py` fails if a later migration brings one back. No-op on SQLite; reversing keeps
them dropped (nothing reads them).
"""

from django.db import migrations

TABLE_PREFIXES = ("certificates_", "notifications_", "audit_")


def drop_pattern_ops_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.indexdef LIKE '%%_pattern_ops%%' AND i.tablename LIKE ANY (%s)",
            [[f"{prefix}%" for prefix in TABLE_PREFIXES]],
        )
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0004_merge_issuance_revocation"),
        ("notifications", "0003_channel_labels"),
        ("audit", "0003_audit_append_only_trigger"),
    ]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
