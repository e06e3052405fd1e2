"""A bulk revoke writes, per certificate, exactly what revoking it alone writes: status, revocation row, audit
event, notifications (by channel and text), resolved incidents and the revoked counter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.models import AuditEvent
from certctl.kernel import counters
from certificates.inventory.models import ManagedCertificate
from certificates.revocation.models import CertificateRevocation
from certificates.revocation.services import revoke as revocation
from notifications.models import NotificationEvent
from tests.factories import OwnerFactory, RenewalPolicyFactory
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def outcome(cert_ids: list[str]) -> list[dict]:
    """What a user sees of each certificate's revocation, independent of ids and of which path wrote it."""
    result = []
    for cert_id in cert_ids:
        cert = ManagedCertificate.objects.get(pk=cert_id)
        revocation_row = CertificateRevocation.objects.get(certificate_id=cert_id)
        audit = AuditEvent.objects.get(action="certificate_revoked", resource_id=cert_id)
        notifications = NotificationEvent.objects.filter(certificate_id=cert_id).order_by("channel")
        result.append(
            {
                "status": (cert.status, cert.revoked_at, cert.revocation_reason, cert.updated_at),
                "revocation": (
                    revocation_row.issuer_id,
                    revocation_row.reason,
                    revocation_row.revoked_by,
                    revocation_row.revoked_at,
                    revocation_row.issuer_notified,
                    revocation_row.crl_entry,
                ),
                "audit": (audit.actor, audit.actor_type, audit.details, audit.resource_type),
                "notifications": [
                    (n.type, n.channel, n.recipient, n.subject, n.message, n.severity_tier)
                    for n in notifications
                ],
            }
        )
    return result


def make_certificates(ca, owner, policy, count: int) -> list[str]:
    ids = []
    for i in range(count):
        cert, _, _ = issue_leaf(ca, owner=owner, renewal_policy=policy, name=f"svc-{owner.pk}-{i}")
        ids.append(cert.pk)
    return ids


def normalized(rows: list[dict], certs: list[str]) -> list[dict]:
    # The certificate's own name and CN differ between the two sets; compare the texts with them replaced.
    out = []
    for row, cert_id in zip(rows, certs, strict=True):
        cert = ManagedCertificate.objects.get(pk=cert_id)
        text = repr(row)
        for value in (cert.name, cert.common_name, *cert.versions.values_list("serial_number", flat=True)):
            text = text.replace(value, "<cert>")
        out.append(text)
    return out


def test_bulk_revoke_writes_what_one_revocation_at_a_time_writes():
    ca = make_local_ca()
    policy = RenewalPolicyFactory(alert_channels={"critical": ["Slack", "PagerDuty"]})
    single_owner = OwnerFactory(email="pki@example.test")
    bulk_owner = OwnerFactory(email="pki@example.test")
    singles = make_certificates(ca, single_owner, policy, 5)
    bulk = make_certificates(ca, bulk_owner, policy, 5)

    for cert_id in singles:
        revocation.revoke_certificate(cert_id, "keyCompromise", actor="alice", actor_type="User", now=NOW)
    counted_singles = sum(counters.read(revocation.REVOKED_METRIC).values())
    result = revocation.bulk_revoke(
        {"owner_id": bulk_owner.pk}, "keyCompromise", actor="alice", actor_type="User", now=NOW, chunk_size=2
    )

    assert result.total_revoked == 5
    assert normalized(outcome(bulk), bulk) == normalized(outcome(singles), singles)
    assert all(row["notifications"] for row in outcome(bulk))
    assert counted_singles == 5
    assert sum(counters.read(revocation.REVOKED_METRIC).values()) == 10
    summary = AuditEvent.objects.get(action="bulk_revocation_initiated")
    assert summary.details["total_revoked"] == 5
