"""The discovery and compliance tables' character keys need no `varchar_pattern_ops` indexes (see 0005)."""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [("certificates", "0014_discovery_and_compliance")]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
