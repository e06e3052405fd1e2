"""The targets' new team key needs no `varchar_pattern_ops` index (see 0005)."""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [("certificates", "0018_target_team")]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
