"""The API key and team membership tables' character keys need no `varchar_pattern_ops` indexes."""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes


class Migration(migrations.Migration):
    dependencies = [("certctl", "0003_api_key_scopes_and_teams")]

    operations = [migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop)]
