"""Compliance rules and the violations they find on managed and discovered certificates."""

from __future__ import annotations

from django.db import models

from certctl.kernel.fields import JSONField
from certctl.kernel.ids import id_factory
from certificates.inventory.models import ManagedCertificate, Team


class RuleType(models.TextChoices):
    MIN_KEY_SIZE = "min_key_size"  # {"rsa": 2048, "ec": 256}
    ALLOWED_CURVES = "allowed_curves"  # {"curves": ["secp256r1", "secp384r1"]}
    FORBIDDEN_SIGNATURE_ALGORITHMS = "forbidden_signature_algorithms"  # {"hashes": ["sha1", "md5"]}
    MAX_VALIDITY = "max_validity"  # {"days": 398}
    ALLOWED_ISSUERS = "allowed_issuers"  # {"issuers": ["CN=...", ...], "issuer_ids": ["issuer-..."]}
    REQUIRED_SAN_PATTERN = "required_san_pattern"  # {"patterns": ["*.example.com", "re:^api-"]}
    EXPIRED = "expired"  # {}
    SELF_SIGNED = "self_signed"  # {}
    CHAIN_PROBLEM = "chain_problem"  # {}: missing intermediate or wrong order, as seen by scans


class Severity(models.TextChoices):
    WARNING = "Warning"
    ERROR = "Error"
    CRITICAL = "Critical"


# Most severe first, for lists of violations.
SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.ERROR: 1, Severity.WARNING: 2}


class RuleScope(models.TextChoices):
    ALL = "all"
    MANAGED = "managed"
    DISCOVERED = "discovered"


class ComplianceRule(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("rule"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=40, choices=RuleType.choices)
    config = JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    applies_to = models.CharField(max_length=16, choices=RuleScope.choices, default=RuleScope.ALL)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "compliance rule"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Violation(models.Model):
    """One rule broken by one certificate; open until the certificate complies (`resolved_at`)."""

    team_lookups = ("team",)  # team-bound keys and staff see these rows only (certctl.api.teams)

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("violation"), editable=False)
    rule = models.ForeignKey(ComplianceRule, on_delete=models.CASCADE, related_name="violations")
    rule_type = models.CharField(max_length=40, choices=RuleType.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    certificate = models.ForeignKey(
        ManagedCertificate, on_delete=models.CASCADE, null=True, blank=True, related_name="violations"
    )
    # By name: discovery services call compliance services, so compliance does not import discovery modules.
    discovered_certificate = models.ForeignKey(
        "certificates.DiscoveredCertificate",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="violations",
    )
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.CharField(max_length=1024)
    details = JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(certificate__isnull=False)
                | models.Q(discovered_certificate__isnull=False),
                name="violation_has_certificate",
            ),
            models.UniqueConstraint(
                fields=["rule", "certificate"],
                name="violation_open_once_managed",
                condition=models.Q(resolved_at__isnull=True, certificate__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["rule", "discovered_certificate"],
                name="violation_open_once_discovered",
                condition=models.Q(resolved_at__isnull=True, discovered_certificate__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["resolved_at", "severity"], name="violation_open_severity")]

    def __str__(self) -> str:
        return self.message
