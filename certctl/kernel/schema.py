"""Schema helpers for migrations."""

from __future__ import annotations

TABLE_PREFIXES = ("certificates_", "notifications_", "audit_")


def drop_pattern_ops_indexes(apps, schema_editor) -> None:
    """Drop the `*_like` (varchar_pattern_ops) indexes Django adds beside every indexed CharField on PostgreSQL.

    They serve only case-sensitive `LIKE 'prefix%'` queries, which certctl's opaque ids never get, yet every
    write maintains them. A migration that creates a table with a CharField key runs this after it;
    tests/certificates/inventory/test_schema_storage.py fails if one is left. No-op on SQLite.
    """
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
