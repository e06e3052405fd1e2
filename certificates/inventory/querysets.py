"""Named, composable reads over the inventory, and the buckets the stats API, /metrics and the console share."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from certificates.enums import CertificateStatus

EXPIRING_SOON_DAYS = 30


def expiry_buckets(now: datetime, expiring_days: int = EXPIRING_SOON_DAYS) -> dict[str, Q]:
    """The reference's certificate buckets, exclusive in this order: revoked, expired, expiring within
    `expiring_days`; `live` is every certificate not archived. One definition, so the stats API, the console's
    tiles and the changelist filters they link to count the same rows."""
    S = CertificateStatus
    live = ~Q(status=S.ARCHIVED)
    revoked = Q(status=S.REVOKED)
    expired = live & ~revoked & (Q(status=S.EXPIRED) | Q(expires_at__lte=now))
    expiring = (
        live
        & ~revoked
        & ~Q(status=S.EXPIRED)
        & Q(expires_at__gt=now, expires_at__lte=now + timedelta(days=expiring_days))
    )
    return {"live": live, "revoked": revoked, "expired": expired, "expiring": expiring}


def agent_online(now: datetime) -> Q:
    """An agent heard from within CERTCTL_AGENT_OFFLINE_AFTER (retired agents are counted nowhere)."""
    return Q(last_heartbeat_at__gte=now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER))


class CertificateQuerySet(models.QuerySet):
    def live(self) -> CertificateQuerySet:
        """Certificates still in service: not archived and not revoked."""
        return self.exclude(status__in=[CertificateStatus.ARCHIVED, CertificateStatus.REVOKED])

    def expiring_within(self, days: int, now: datetime) -> CertificateQuerySet:
        return self.filter(expires_at__isnull=False, expires_at__lte=now + timedelta(days=days))

    def expired(self, now: datetime) -> CertificateQuerySet:
        return self.filter(expires_at__lte=now)
