"""Hash chain columns (seq, prev_hash, row_hash); existing rows are chained in timestamp order."""

import django.core.serializers.json
import django.utils.timezone
from django.db import migrations, models

from audit.services.chain import GENESIS_HASH, row_hash

FIELDS = ("id", "timestamp", "actor", "actor_type", "action", "resource_type", "resource_id", "details")


def chain_existing_rows(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    prev = GENESIS_HASH
    for seq, row in enumerate(AuditEvent.objects.order_by("timestamp", "id").values(*FIELDS), start=1):
        row.update(seq=seq, prev_hash=prev)
        prev = row_hash(row)
        AuditEvent.objects.filter(pk=row["id"]).update(seq=seq, prev_hash=row["prev_hash"], row_hash=prev)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(
                editable=False, help_text="Position in the hash chain (1, 2, 3…)", unique=True
            ),
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
