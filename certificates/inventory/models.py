"""The inventory, what exists: teams, owners, issuers, profiles, renewal policies, agents and their deployment targets,
managed certificates and their versions. The packages beside it hold what happens to them; their models point
here by name ("certificates.ManagedCertificate"), and nothing here points at them.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from certctl.kernel.fields import JSONField
from certctl.kernel.ids import id_factory
from certificates import validators
from certificates.enums import (
    AgentStatus,
    CertificateSource,
    CertificateStatus,
    IssuerType,
    RevocationReason,
    TargetType,
)
from certificates.inventory.querysets import CertificateQuerySet
from notifications.enums import DEFAULT_ALERT_THRESHOLDS


def default_thresholds() -> list[int]:
    return list(DEFAULT_ALERT_THRESHOLDS)


def default_key_algorithms() -> list[dict]:
    return [{"algorithm": "ECDSA", "min_size": 256}, {"algorithm": "RSA", "min_size": 2048}]


def default_ekus() -> list[str]:
    return ["serverAuth"]


# Issuance caps; a certificate without a profile gets these too (certificates.issuance.services.csr_policy).
DEFAULT_MAX_SANS = 100
MAX_SANS_LIMIT = 1000
DEFAULT_MAX_RSA_KEY_SIZE = 8192
RSA_KEY_SIZES = (2048, 3072, 4096, 6144, 8192)


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Team(TimestampedModel):
    team_lookups = ("pk",)  # team-bound keys and staff see these rows only (certctl.api.teams)
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("team"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    # Quiet hours (both set, in `timezone`): non-critical alerts wait until the window ends; the window may
    # wrap midnight (22:00-07:00).
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validators.validate_timezone],
        help_text="e.g. Europe/Berlin",
    )
    # Daily digest: one message a day to the team's destinations listing what expires within the horizon,
    # instead of a non-critical message per certificate.
    digest_enabled = models.BooleanField(default=False)
    digest_hour = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)], help_text="Local hour (in the team's time zone)."
    )
    digest_horizon_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Owner(TimestampedModel):
    team_lookups = ("team",)  # team-bound keys and staff see these rows only (certctl.api.teams)
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("owner"), editable=False)
    name = models.CharField(max_length=255)
    email = models.EmailField(max_length=255)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="owners")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Issuer(TimestampedModel):
    """A certificate authority; `config` is public, `encrypted_config` holds secrets encrypted at rest."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("issuer"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=32, choices=IssuerType.choices, default=IssuerType.LOCAL)
    config = JSONField(default=dict, blank=True)
    encrypted_config = models.TextField(blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    test_status = models.CharField(max_length=32, default="untested")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """A host-side agent that generates keys locally and deploys certificates; it polls, the server never dials."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("agent"), editable=False)
    name = models.CharField(max_length=128, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=AgentStatus.choices, default=AgentStatus.OFFLINE)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)
    api_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    os = models.CharField(max_length=64, blank=True)
    architecture = models.CharField(max_length=64, blank=True)
    ip_address = models.CharField(max_length=45, blank=True)
    version = models.CharField(max_length=64, blank=True)
    metadata = JSONField(default=dict, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CertificateProfile(TimestampedModel):
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("prof"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    allowed_key_algorithms = JSONField(
        default=default_key_algorithms, validators=[validators.validate_key_algorithms]
    )
    max_ttl_seconds = models.PositiveIntegerField(default=0, help_text="0 = the issuer's default validity")
    allowed_ekus = JSONField(default=default_ekus, validators=[validators.validate_ekus])
    required_san_patterns = JSONField(default=list, blank=True, validators=[validators.validate_regex_list])
    allow_short_lived = models.BooleanField(default=False)
    must_staple = models.BooleanField(default=False)
    requires_approval = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    max_sans = models.PositiveIntegerField(
        default=DEFAULT_MAX_SANS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SANS_LIMIT)],
        help_text=f"Most names (common name and SANs) a leaf may carry, 1 to {MAX_SANS_LIMIT}.",
    )
    max_rsa_key_size = models.PositiveIntegerField(
        default=DEFAULT_MAX_RSA_KEY_SIZE,
        choices=[(size, str(size)) for size in RSA_KEY_SIZES],
        help_text="Largest RSA key accepted in a CSR, in bits; the smallest is the RSA min_size in "
        "allowed key algorithms.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_short_lived=False) | Q(max_ttl_seconds__gt=0, max_ttl_seconds__lt=3600),
                name="profile_short_lived_ttl_under_1h",
            ),
            models.CheckConstraint(
                condition=Q(max_sans__gte=1, max_sans__lte=MAX_SANS_LIMIT), name="profile_max_sans_range"
            ),
            models.CheckConstraint(
                condition=Q(max_rsa_key_size__in=RSA_KEY_SIZES), name="profile_max_rsa_key_size_allowed"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problem = self.rsa_size_problem()
        if problem:
            raise ValidationError({"max_rsa_key_size": problem})

    def rsa_size_problem(self) -> str:
        """Why the RSA bounds cannot both hold (the minimum is above the maximum); empty when they can."""
        rules = self.allowed_key_algorithms if isinstance(self.allowed_key_algorithms, list) else []
        minimums = [
            r.get("min_size", 0)
            for r in rules
            if isinstance(r, dict) and r.get("algorithm") == "RSA" and isinstance(r.get("min_size", 0), int)
        ]
        if minimums and min(minimums) > self.max_rsa_key_size:
            return (
                f"max_rsa_key_size {self.max_rsa_key_size} is below the RSA min_size {min(minimums)} "
                "in allowed_key_algorithms"
            )
        return ""

    @property
    def is_short_lived(self) -> bool:
        return self.allow_short_lived and 0 < self.max_ttl_seconds < 3600


class RenewalPolicy(TimestampedModel):
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("rp"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    renewal_window_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    auto_renew = models.BooleanField(default=True)
    max_retries = models.PositiveSmallIntegerField(default=3, validators=[MaxValueValidator(10)])
    retry_interval_seconds = models.PositiveIntegerField(
        default=3600, validators=[MinValueValidator(60), MaxValueValidator(86400)]
    )
    alert_thresholds_days = JSONField(default=default_thresholds, validators=[validators.validate_thresholds])
    alert_channels = JSONField(
        default=dict,
        blank=True,
        validators=[validators.validate_alert_channels],
        help_text="Tier → channels. Empty = Email for every tier; a tier left out of a configured map gets no alerts.",
    )
    alert_severity_map = JSONField(
        default=dict,
        blank=True,
        validators=[validators.validate_severity_map],
        help_text="Threshold days → tier. Unmapped thresholds use the default map, then informational.",
    )
    alert_owner_tiers = JSONField(
        default=list,
        blank=True,
        validators=[validators.validate_tiers],
        help_text="Tiers whose alerts also go to the certificate owner's email.",
    )
    escalation_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="An unacknowledged critical alert goes to the next escalation step after this long; empty: never.",
    )
    escalation_steps = JSONField(
        default=list,
        blank=True,
        validators=[validators.validate_escalation_steps],
        help_text='A list of steps, each a list of destination ids or names, e.g. [["lead-email"], ["pagerduty"]].',
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "renewal policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(renewal_window_days__gte=1, renewal_window_days__lte=365),
                name="policy_window_1_365",
            ),
            models.CheckConstraint(condition=Q(max_retries__lte=10), name="policy_max_retries_0_10"),
            models.CheckConstraint(
                condition=Q(retry_interval_seconds__gte=60, retry_interval_seconds__lte=86400),
                name="policy_retry_interval_60_86400",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DeploymentTarget(TimestampedModel):
    team_lookups = ("team",)  # team-bound keys and staff see these rows only (certctl.api.teams)
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("target"), editable=False)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=32, choices=TargetType.choices)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="targets")
    # The team that runs the target: team-bound API keys and staff see their teams' targets only.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, null=True, blank=True, related_name="targets")
    config = JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["agent", "name"], name="target_unique_name_per_agent")]

    def __str__(self) -> str:
        return self.name


class ManagedCertificate(TimestampedModel):
    team_lookups = ("team",)  # team-bound keys and staff see these rows only (certctl.api.teams)
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("cert"), editable=False)
    # No index of its own: cert_keyset (created_at DESC, id DESC) serves sorting either way and ranges, and every
    # index of this table gets a new entry on each issuance's update.
    created_at = models.DateTimeField(auto_now_add=True)
    name = models.CharField(max_length=255, unique=True)
    common_name = models.CharField(max_length=253)
    sans = JSONField(default=list, blank=True, validators=[validators.validate_string_list])
    # Indexed by cert_env_expiry (environment, expires_at, id), which also serves the filtered, sorted list.
    environment = models.CharField(max_length=64, blank=True)
    owner = models.ForeignKey(Owner, on_delete=models.PROTECT, related_name="certificates")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="certificates")
    issuer = models.ForeignKey(Issuer, on_delete=models.PROTECT, related_name="certificates")
    renewal_policy = models.ForeignKey(RenewalPolicy, on_delete=models.PROTECT, related_name="certificates")
    profile = models.ForeignKey(
        CertificateProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="certificates"
    )
    targets = models.ManyToManyField(DeploymentTarget, blank=True, related_name="certificates")
    status = models.CharField(
        max_length=32, choices=CertificateStatus.choices, default=CertificateStatus.PENDING
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    tags = JSONField(default=dict, blank=True)
    last_renewal_at = models.DateTimeField(null=True, blank=True)
    last_deployment_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, choices=RevocationReason.choices, blank=True)
    source = models.CharField(max_length=16, choices=CertificateSource.choices, blank=True, default="")
    # ACME Renewal Information (RFC 9773) for the current version, from its CA; all empty without ARI and
    # cleared when a new version is issued. `ari_renew_at` (a random moment in the window) replaces the policy's
    # renewal window; `ari_next_check_at` is when to ask the CA again (and the refresh sweep's claim lease).
    ari_window_start = models.DateTimeField(null=True, blank=True)
    ari_window_end = models.DateTimeField(null=True, blank=True)
    ari_explanation_url = models.URLField(max_length=2048, blank=True, default="", db_default="")
    ari_renew_at = models.DateTimeField(null=True, blank=True)
    ari_checked_at = models.DateTimeField(null=True, blank=True)
    ari_next_check_at = models.DateTimeField(null=True, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        verbose_name = "certificate"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["expires_at", "status"], name="cert_expiry_scan"),
            models.Index(fields=["-created_at", "-id"], name="cert_keyset"),
            models.Index(fields=["status"], name="cert_status"),
            models.Index(fields=["environment", "expires_at", "id"], name="cert_env_expiry"),
            models.Index(
                fields=["ari_renew_at"],
                name="cert_ari_renew_at",
                condition=models.Q(ari_renew_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CertificateVersion(models.Model):
    """One issued certificate (leaf + chain) of a managed certificate; the newest is the current one."""

    team_lookups = ("certificate__team",)  # team-bound keys and staff see these rows only (certctl.api.teams)

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("certver"), editable=False)
    # Indexed by certver_latest (certificate, -created_at), which also serves the cascade and the join.
    certificate = models.ForeignKey(
        ManagedCertificate, on_delete=models.CASCADE, related_name="versions", db_index=False
    )
    issuer = models.ForeignKey(Issuer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    serial_number = models.CharField(max_length=64, db_index=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    pem_chain = models.TextField()
    csr_pem = models.TextField(blank=True)
    key_algorithm = models.CharField(max_length=16, blank=True)
    key_size = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["certificate", "-created_at"], name="certver_latest")]

    def __str__(self) -> str:
        return f"{self.certificate_id} #{self.serial_number}"
