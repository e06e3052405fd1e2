"""0008's foreign key to discovered certificates needs no `varchar_pattern_ops` index (see 0005). A separate
migration: PostgreSQL's schema editor creates that index at the end of the migration that adds the field."""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [("notifications", "0008_discovered_certificate_alerts")]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
