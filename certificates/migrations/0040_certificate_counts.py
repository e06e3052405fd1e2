"""Exact certificate counts kept by the database (certificates.inventory.counts reads them; the tables and triggers
are defined in certificates.inventory.counter_triggers), and the index the filtered, sorted certificate list walks.
"""

from django.db import migrations, models

from certificates.inventory.counter_triggers import create_counters, drop_counters


class Migration(migrations.Migration):
    dependencies = [("certificates", "0030_crl_entries")]

    operations = [
        # The filtered list (environment, expiry bounds, sort=expires_at) walks this index in order and stops
        # after a page; it also serves environment-only filters, so the single-column index goes.
        migrations.AlterField(
            model_name="managedcertificate",
            name="environment",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="managedcertificate",
            index=models.Index(fields=["environment", "expires_at", "id"], name="cert_env_expiry"),
        ),
        # Last: on SQLite the AlterField above rebuilds the table, which drops its triggers.
        migrations.RunPython(create_counters, drop_counters),
    ]
