"""Hash chain columns (seq, prev_hash, row_hash); existing rows stay unsealed until the sealer chains them."""

import django.core.serializers.json
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(
                blank=True,
                editable=False,
                help_text="Position in the hash chain; empty until sealed",
                null=True,
                unique=True,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="details",
            field=models.JSONField(blank=True, encoder=django.core.serializers.json.DjangoJSONEncoder, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor_type",
            field=models.CharField(
                choices=[("User", "User"), ("System", "System"), ("Agent", "Agent"), ("Anonymous", "Anonymous")],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="timestamp",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AlterModelOptions(name="auditevent", options={"ordering": ["-timestamp", "-seq"]}),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor", "timestamp"], name="audit_actor_time"),
        ),
    ]
