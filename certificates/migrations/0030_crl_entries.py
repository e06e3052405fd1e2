from django.db import migrations, models


def crl_stored_uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("certificates", "CRLCache")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN crl_der SET STORAGE EXTERNAL")


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0021_agent_groups_drop_pattern_ops"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificaterevocation",
            name="crl_entry",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="crlcache",
            name="signed_by",
            field=models.CharField(
                blank=True,
                default="",
                help_text="SHA-256 of the CA certificate that signed this CRL.",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="crlcache",
            name="revocations_seen",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Revocations of the issuer this CRL took in: listed, or left off as short-lived.",
            ),
        ),
        # A CRL of 100,000 entries is 5 MB of DER that hardly compresses: storing it uncompressed saves the
        # compression attempt on every regeneration.
        migrations.RunPython(crl_stored_uncompressed, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="certificaterevocation",
            index=models.Index(
                condition=models.Q(("crl_entry__isnull", True)),
                fields=["issuer"],
                name="revocation_not_on_crl",
            ),
        ),
    ]
