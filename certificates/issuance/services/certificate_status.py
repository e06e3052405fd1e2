"""A certificate's status between issuance attempts: derived from its expiry, and settled after a cancelled renewal.

Jobs, approvals and renewal all end here, so this module imports none of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from certificates.enums import CertificateStatus
from certificates.inventory.models import ManagedCertificate

EXPIRING_SOON_DAYS = 30
NOT_RENEWABLE = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)


def expiry_status(certificate: ManagedCertificate, now: datetime) -> str:
    """The status a certificate shows from its expiry alone."""
    if certificate.expires_at is None:
        return CertificateStatus.PENDING
    if certificate.expires_at <= now:
        return CertificateStatus.EXPIRED
    if certificate.expires_at <= now + timedelta(days=EXPIRING_SOON_DAYS):
        return CertificateStatus.EXPIRING
    return CertificateStatus.ACTIVE


def set_status(certificate: ManagedCertificate, status: str, now: datetime) -> None:
    ManagedCertificate.objects.filter(pk=certificate.pk).update(status=status, updated_at=now)
    certificate.status = status


def settle_certificate_status(certificate: ManagedCertificate, *, now: datetime | None = None) -> None:
    """After a cancelled renewal, a certificate left RenewalInProgress goes back to its expiry-derived status."""
    now = now or timezone.now()
    certificate.refresh_from_db(fields=["status", "expires_at"])
    if certificate.status == CertificateStatus.RENEWAL_IN_PROGRESS:
        set_status(certificate, expiry_status(certificate, now), now)
