"""Agent groups, their member table and the jobs' version key need no `varchar_pattern_ops` index (see 0005)."""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [("certificates", "0020_agent_groups_deployment_verification")]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
