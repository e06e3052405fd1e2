"""Drop the `*_like` (varchar_pattern_ops) indexes Django adds beside every indexed CharField on PostgreSQL.

They serve only case-sensitive `LIKE 'prefix%'` queries. certctl's identifiers are opaque (`cert-01…`) and
never prefix-searched (admin and API searches are case-insensitive and cannot use them), yet every INSERT and
every non-HOT UPDATE maintains them: a certificate activated on issuance updated 20 indexes, 8 of them these.
`tests/certificates/inventory/test_schema_storage.py` fails if a later migration brings one back. No-op on SQLite; reversing keeps
them dropped (nothing reads them).
"""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0004_merge_issuance_revocation"),
        ("notifications", "0003_channel_labels"),
        ("audit", "0003_audit_append_only_trigger"),
    ]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
