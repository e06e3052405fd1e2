"""Named, composable reads over the inventory."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models

from certificates.enums import CertificateStatus


class CertificateQuerySet(models.QuerySet):
    def live(self) -> CertificateQuerySet:
        """Certificates still in service: not archived and not revoked."""
        return self.exclude(status__in=[CertificateStatus.ARCHIVED, CertificateStatus.REVOKED])

    def expiring_within(self, days: int, now: datetime) -> CertificateQuerySet:
        return self.filter(expires_at__isnull=False, expires_at__lte=now + timedelta(days=days))

    def expired(self, now: datetime) -> CertificateQuerySet:
        return self.filter(expires_at__lte=now)
