"""Default compliance rules (docs/discovery.md, "Compliance rules"): enabled, and editable or removable by
operators like any rule. Rules an operator already created under these names are left alone."""

from django.db import migrations
from django.utils import timezone

from certctl.kernel.ids import new_id

SEED_RULES = [
    {
        "name": "Minimum key size",
        "type": "min_key_size",
        "config": {"rsa": 2048, "ec": 256},
        "severity": "Error",
        "applies_to": "all",
        "description": "RSA keys of at least 2048 bits, EC keys of at least 256 bits.",
    },
    {
        "name": "No SHA-1 or MD5 signatures",
        "type": "forbidden_signature_algorithms",
        "config": {"hashes": ["sha1", "md5"]},
        "severity": "Critical",
        "applies_to": "all",
        "description": "Certificates signed with SHA-1 or MD5 can be forged; browsers reject them.",
    },
    {
        "name": "Expired",
        "type": "expired",
        "config": {},
        "severity": "Critical",
        "applies_to": "all",
        "description": "A certificate past its notAfter breaks every client that checks it.",
    },
    {
        "name": "Self-signed",
        "type": "self_signed",
        "config": {},
        "severity": "Warning",
        "applies_to": "all",
        "description": "No CA vouches for a self-signed certificate; clients must pin or ignore it.",
    },
    {
        "name": "Chain problem",
        "type": "chain_problem",
        "config": {},
        "severity": "Error",
        "applies_to": "all",
        "description": "Served without its intermediate or with the chain in the wrong order, as seen by scans.",
    },
    {
        "name": "Maximum validity 398 days",
        "type": "max_validity",
        "config": {"days": 398},
        "severity": "Warning",
        "applies_to": "discovered",
        "description": "Publicly trusted TLS certificates may not be valid for more than 398 days.",
    },
]


def seed(apps, schema_editor):
    ComplianceRule = apps.get_model("certificates", "ComplianceRule")
    now = timezone.now()
    existing = set(ComplianceRule.objects.values_list("name", flat=True))
    ComplianceRule.objects.bulk_create(
        [
            ComplianceRule(id=new_id("rule"), enabled=True, created_at=now, updated_at=now, **fields)
            for fields in SEED_RULES
            if fields["name"] not in existing
        ]
    )


def unseed(apps, schema_editor):
    ComplianceRule = apps.get_model("certificates", "ComplianceRule")
    ComplianceRule.objects.filter(name__in=[fields["name"] for fields in SEED_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("certificates", "0015_discovery_drop_pattern_ops")]

    operations = [migrations.RunPython(seed, unseed)]
