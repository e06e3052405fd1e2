"""The new tables' CharField keys got pattern-ops indexes on PostgreSQL that nothing reads (see certificates 0005).

A migration of its own: Django creates a new table's indexes when the migration that creates it ends.
"""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0004_demo_inbox"),
        ("certificates", "0008_expiry_check_runs"),
    ]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
