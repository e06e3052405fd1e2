"""Issuance: jobs, approval requests and the keys the server generated itself (issuers are inventory rows)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from certctl.kernel.fields import JSONField
from certctl.kernel.ids import id_factory
from certificates.enums import (
    ApprovalState,
    JobStatus,
    JobType,
    VerificationStatus,
)
from certificates.issuance.querysets import JobQuerySet


class Job(models.Model):
    team_lookups = ("certificate__team",)  # team-bound keys and staff see these rows only (certctl.api.teams)
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("job"), editable=False)
    type = models.CharField(max_length=16, choices=JobType.choices)
    certificate = models.ForeignKey(
        "certificates.ManagedCertificate", on_delete=models.CASCADE, related_name="jobs"
    )
    target = models.ForeignKey(
        "certificates.DeploymentTarget", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    agent = models.ForeignKey(
        "certificates.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    status = models.CharField(max_length=24, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    last_error = models.TextField(blank=True)
    scheduled_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Deployment jobs: the version to deploy, and whether its target's endpoint was then seen serving it.
    version = models.ForeignKey(
        "certificates.CertificateVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deployment_jobs",
    )
    verification_status = models.CharField(
        max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_error = models.TextField(blank=True)
    verification_fingerprint = models.CharField(max_length=64, blank=True)  # SHA-256 of the leaf served

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="job_status_scheduled")]
        constraints = [
            # At most one open issuance/renewal per certificate: concurrent renewal runs cannot both create one.
            models.UniqueConstraint(
                fields=["certificate"],
                condition=Q(type__in=["Issuance", "Renewal"])
                & Q(status__in=["Pending", "AwaitingCSR", "AwaitingApproval", "Running"]),
                name="job_one_open_issuance_per_cert",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.status})"


class ApprovalRequest(models.Model):
    team_lookups = ("certificate__team",)  # team-bound keys and staff see these rows only (certctl.api.teams)
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("ar"), editable=False)
    certificate = models.ForeignKey(
        "certificates.ManagedCertificate", on_delete=models.CASCADE, related_name="approval_requests"
    )
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="approval_requests")
    profile = models.ForeignKey(
        "certificates.CertificateProfile", on_delete=models.PROTECT, related_name="approval_requests"
    )
    requested_by = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=ApprovalState.choices, default=ApprovalState.PENDING)
    decided_by = models.CharField(max_length=255, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    metadata = JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["job"], condition=Q(state="pending"), name="approval_one_pending_per_job"
            ),
            models.CheckConstraint(
                condition=Q(state="pending", decided_at__isnull=True)
                | (~Q(state="pending") & Q(decided_at__isnull=False)),
                name="approval_decided_at_matches_state",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.state})"


class ServerGeneratedKey(models.Model):
    """The key of one issued version; `encrypted_private_key` is Fernet ciphertext (certctl.kernel.crypto), never PEM."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("skey"), editable=False)
    version = models.OneToOneField(
        "certificates.CertificateVersion", on_delete=models.CASCADE, related_name="server_key"
    )
    encrypted_private_key = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"server key of {self.version_id}"


class AcmeOrder(models.Model):
    """One ACME order (RFC 8555) for one CSR, saved after every step so a retried job resumes it.

    `status` is the CA's order status, plus `completed` once certctl has downloaded the certificate: an order that
    is still open (pending, ready, processing, valid) is what a retry with the same CSR picks up again.
    """

    OPEN_STATUSES = ("pending", "ready", "processing", "valid")

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("acmeord"), editable=False)
    issuer = models.ForeignKey("certificates.Issuer", on_delete=models.CASCADE, related_name="acme_orders")
    csr_fingerprint = models.CharField(max_length=64)  # SHA-256 of the CSR's DER, hex
    order_url = models.URLField(max_length=500)
    status = models.CharField(max_length=16)
    identifiers = JSONField(default=list, blank=True)
    # One entry per authorization: url, identifier, status, and the HTTP-01 challenge's url, token and status.
    authorizations = JSONField(default=list, blank=True)
    certificate_url = models.URLField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open order per CSR: two workers retrying the same job cannot both start one.
            models.UniqueConstraint(
                fields=["issuer", "csr_fingerprint"],
                condition=Q(status__in=["pending", "ready", "processing", "valid"]),
                name="acme_order_one_open_per_csr",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class AcmeHttpChallenge(models.Model):
    """The answer to an HTTP-01 challenge while the CA validates it: served by certctl at
    /.well-known/acme-challenge/<token>, or (with `target`) published by that target's agent on its host."""

    token = models.CharField(primary_key=True, max_length=255)
    key_authorization = models.TextField()
    order = models.ForeignKey(AcmeOrder, on_delete=models.CASCADE, related_name="http_challenges")
    # http-01-agent: the target whose agent publishes the answer on its host, and when it said it had.
    target = models.ForeignKey(
        "certificates.DeploymentTarget",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="acme_http_challenges",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"HTTP-01 {self.token}"
