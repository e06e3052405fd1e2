"""Revocation: the authoritative record per (issuer, serial), and what is derived (and signed) from it per issuer:
the CRL, the delegated OCSP responder and cached OCSP answers.
"""

from __future__ import annotations

from django.db import models

from certctl.kernel.ids import id_factory
from certificates.enums import RevocationReason
from certificates.inventory.models import Issuer


class CertificateRevocation(models.Model):
    """The authoritative revocation record per (issuer, serial): the source of CRLs and OCSP answers."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("rev"), editable=False)
    certificate = models.ForeignKey(
        "certificates.ManagedCertificate", on_delete=models.PROTECT, related_name="revocations"
    )
    issuer = models.ForeignKey("certificates.Issuer", on_delete=models.PROTECT, related_name="revocations")
    serial_number = models.CharField(max_length=64)
    reason = models.CharField(
        max_length=32, choices=RevocationReason.choices, default=RevocationReason.UNSPECIFIED
    )
    revoked_by = models.CharField(max_length=255)
    revoked_at = models.DateTimeField()
    # Whether the CA knows: a local CA always does (its CRL and OCSP come from this row); an ACME CA is told by
    # the task certificates.revoke_at_issuer after commit, which records the outcome here.
    issuer_notified = models.BooleanField(default=False)
    issuer_notified_at = models.DateTimeField(null=True, blank=True)
    issuer_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    issuer_error = models.TextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # The DER of this revocation's CRL entry, encoded once when a CRL first takes it in; NULL until then, which is
    # also how the next CRL finds the revocations it has to append.
    crl_entry = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-revoked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "serial_number"], name="revocation_unique_issuer_serial"
            )
        ]
        indexes = [
            models.Index(fields=["serial_number"], name="revocation_serial"),
            models.Index(
                fields=["issuer"], condition=models.Q(crl_entry__isnull=True), name="revocation_not_on_crl"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.serial_number} ({self.reason})"


class CRLCache(models.Model):
    """The last CRL signed for an issuer; its row is also the per-issuer lock for regeneration."""

    issuer = models.OneToOneField(
        Issuer, on_delete=models.CASCADE, primary_key=True, related_name="crl_cache"
    )
    crl_der = models.BinaryField(default=b"")
    crl_number = models.BigIntegerField(default=0, help_text="Last CRL number used; the next CRL gets +1.")
    this_update = models.DateTimeField(null=True, blank=True)
    next_update = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True, help_text="When the revocations were read.")
    generation_duration_ms = models.PositiveIntegerField(default=0)
    revoked_count = models.PositiveIntegerField(default=0)
    revocations_seen = models.PositiveIntegerField(
        default=0, help_text="Revocations of the issuer this CRL took in: listed, or left off as short-lived."
    )
    etag = models.CharField(max_length=64, blank=True)
    signed_by = models.CharField(
        max_length=64, blank=True, default="", help_text="SHA-256 of the CA certificate that signed this CRL."
    )

    class Meta:
        verbose_name = "CRL cache"

    def __str__(self) -> str:
        return f"CRL #{self.crl_number} of {self.issuer_id}"

    def is_fresh(self, now) -> bool:
        return bool(self.crl_der) and self.next_update is not None and now < self.next_update


class OCSPResponder(models.Model):
    """The delegated OCSP signing certificate of an issuer (EKU OCSPSigning, ocsp-nocheck); the key is encrypted."""

    issuer = models.OneToOneField(
        Issuer, on_delete=models.CASCADE, primary_key=True, related_name="ocsp_responder"
    )
    cert_pem = models.TextField()
    cert_serial = models.CharField(max_length=64)
    encrypted_key = models.TextField(editable=False)
    key_algorithm = models.CharField(max_length=16, default="ECDSA-P256")
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    rotated_from = models.CharField(
        max_length=64, blank=True, help_text="Serial of the certificate it replaced."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OCSP responder"

    def __str__(self) -> str:
        return f"OCSP responder {self.cert_serial} of {self.issuer_id}"


class OCSPCertStatus(models.TextChoices):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class OCSPResponseCache(models.Model):
    """A signed nonce-less OCSP response, served until next_update or until the serial is revoked."""

    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="+")
    serial_hex = models.CharField(max_length=64)
    hash_algorithm = models.CharField(max_length=16, help_text="Hash of the request's CertID (sha1, sha256).")
    response_der = models.BinaryField()
    cert_status = models.CharField(max_length=8, choices=OCSPCertStatus.choices)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()

    class Meta:
        verbose_name = "OCSP response cache"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "serial_hex", "hash_algorithm"], name="ocsp_cache_unique_issuer_serial_alg"
            )
        ]

    def __str__(self) -> str:
        return f"OCSP {self.cert_status} for {self.serial_hex}"
