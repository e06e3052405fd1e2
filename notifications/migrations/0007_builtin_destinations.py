"""The `CERTCTL_*` channel variables become six built-in destinations (fixed ids, read-only), and every existing
notification row records the built-in destination of its channel, so history, dead letter and per-destination
figures cover the rows written before destinations existed.

A migration of its own for the new table's pattern-ops indexes (see certificates 0005).
"""

from django.db import migrations

from certctl.kernel.schema import drop_pattern_ops_indexes

BUILTIN = {
    "Email": "email",
    "Webhook": "webhook",
    "Slack": "slack",
    "Teams": "teams",
    "PagerDuty": "pagerduty",
    "OpsGenie": "opsgenie",
}


def create_builtins(apps, schema_editor) -> None:
    Destination = apps.get_model("notifications", "Destination")
    NotificationEvent = apps.get_model("notifications", "NotificationEvent")
    for channel, kind in BUILTIN.items():
        dest_id = f"dest-env-{kind}"
        Destination.objects.get_or_create(
            id=dest_id,
            defaults={"name": f"{channel} (environment)", "kind": kind, "source": "environment"},
        )
        NotificationEvent.objects.filter(channel=channel, destination__isnull=True).update(
            destination_id=dest_id, destination_name=f"{channel} (environment)"
        )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_destinations")]

    operations = [
        migrations.RunPython(create_builtins, migrations.RunPython.noop),
        migrations.RunPython(drop_pattern_ops_indexes, migrations.RunPython.noop),
    ]
