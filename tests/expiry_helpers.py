"""Shared builders for the expiry-alert tests (imported explicitly by tests/certificates/expiry/)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from certificates.inventory.models import ManagedCertificate, RenewalPolicy
from notifications.models import NotificationEvent
from tests.factories import CertificateFactory, RenewalPolicyFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FANOUT = {
    "informational": ["Slack"],
    "warning": ["Slack", "Email"],
    "critical": ["PagerDuty", "OpsGenie", "Email"],
}


def policy(**fields) -> RenewalPolicy:
    return RenewalPolicyFactory(**fields)


def cert_expiring_in(
    delta: timedelta, renewal_policy: RenewalPolicy | None = None, **fields
) -> ManagedCertificate:
    extra = {"renewal_policy": renewal_policy} if renewal_policy else {}
    return CertificateFactory(expires_at=NOW + delta, **extra, **fields)


def alerts_per_channel(cert: ManagedCertificate | None = None) -> Counter:
    rows = NotificationEvent.objects.filter(type="ExpirationWarning")
    if cert is not None:
        rows = rows.filter(certificate=cert)
    return Counter(rows.values_list("channel", flat=True))
