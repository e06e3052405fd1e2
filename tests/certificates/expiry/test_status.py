"""Which certificates the expiry check scans, and the Expiring/Expired status moves it makes (each audited)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from certificates.expiry.services.check import check_expiring_certificates
from certificates.inventory.models import ManagedCertificate
from notifications.models import NotificationEvent
from tests.expiry_helpers import FANOUT, NOW, cert_expiring_in, policy
from tests.factories import CertificateFactory

pytestmark = pytest.mark.django_db


def test_active_certificate_inside_the_window_moves_to_expiring_and_is_audited():
    cert = cert_expiring_in(timedelta(days=12), status="Active")

    result = check_expiring_certificates(now=NOW)

    cert.refresh_from_db()
    assert cert.status == "Expiring"
    event = AuditEvent.objects.get(action="certificate_status_changed", resource_id=cert.id)
    assert event.details == {"status": "Active -> Expiring", "expiry": "2026-06-13T12:00:00Z"}
    assert event.resource_type == "certificate"
    assert result.status_changes == {"Active -> Expiring": 1}


def test_past_expiry_moves_to_expired_and_still_alerts():
    cert = cert_expiring_in(timedelta(days=-2), status="Expiring")

    check_expiring_certificates(now=NOW)

    cert.refresh_from_db()
    assert cert.status == "Expired"
    assert (
        AuditEvent.objects.get(action="certificate_status_changed").details["status"] == "Expiring -> Expired"
    )
    # One critical EXPIRED alert: the thresholds it passed are implied by it.
    alert = NotificationEvent.objects.get(certificate=cert)
    assert (alert.threshold_days, alert.severity_tier) == (-1, "critical")
    assert "Days left: EXPIRED" in alert.message


def test_status_that_is_already_right_is_not_rewritten_or_audited():
    cert_expiring_in(timedelta(days=12), status="Expiring")
    cert_expiring_in(timedelta(days=-12), status="Expired")

    result = check_expiring_certificates(now=NOW)

    assert not AuditEvent.objects.filter(action="certificate_status_changed").exists()
    assert result.status_changes == {}
    assert result.scanned == 2


def test_failed_certificate_keeps_its_status_but_is_still_alerted():
    cert = cert_expiring_in(timedelta(days=3), status="Failed")

    check_expiring_certificates(now=NOW)

    cert.refresh_from_db()
    assert cert.status == "Failed"
    assert NotificationEvent.objects.filter(certificate=cert).count() == 1


@pytest.mark.parametrize("status", ["Archived", "Revoked", "RenewalInProgress"])
def test_archived_revoked_and_renewing_certificates_are_not_scanned(status):
    cert = cert_expiring_in(timedelta(days=-1), status=status)

    result = check_expiring_certificates(now=NOW)

    cert.refresh_from_db()
    assert cert.status == status
    assert result.scanned == 0
    assert not NotificationEvent.objects.exists()


def test_window_is_the_largest_threshold_of_each_certificates_own_policy():
    long_notice = policy(alert_thresholds_days=[90, 30])
    early = cert_expiring_in(timedelta(days=80), long_notice)
    default_far = cert_expiring_in(timedelta(days=45))
    boundary = cert_expiring_in(timedelta(days=30, hours=23))
    outside = cert_expiring_in(timedelta(days=31))
    CertificateFactory(expires_at=None)

    result = check_expiring_certificates(now=NOW)

    assert result.scanned == 2
    assert NotificationEvent.objects.filter(certificate=early, threshold_days=90).exists()
    assert NotificationEvent.objects.filter(certificate=boundary, threshold_days=30).exists()
    assert not NotificationEvent.objects.filter(certificate__in=[default_far, outside]).exists()
    assert ManagedCertificate.objects.get(pk=default_far.pk).status == "Active"


def _queries_for_a_run(count: int) -> int:
    fanout = policy(alert_channels=FANOUT)
    for i in range(count):
        # Expired, expiring and every threshold, for both policies, at any count ≥ 20.
        days = timedelta(days=(i % 10) * 4 - 8, hours=1)
        cert_expiring_in(days, fanout if i % 2 else None, status="Active")
    with CaptureQueriesContext(connection) as ctx:
        check_expiring_certificates(now=NOW)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_the_number_of_certificates():
    small = _queries_for_a_run(20)
    NotificationEvent.objects.all().delete()
    ManagedCertificate.objects.all().update(status="Archived")
    large = _queries_for_a_run(200)

    assert NotificationEvent.objects.exclude(certificate__status="Archived").count() > 200
    assert large == small


def test_chunked_scan_gives_the_same_outcome_as_one_chunk(monkeypatch):
    monkeypatch.setattr("certificates.expiry.services.check.CHUNK_SIZE", 3)
    certs = [
        cert_expiring_in(timedelta(days=d, hours=1), status="Active") for d in (-2, 0, 3, 6, 10, 13, 20, 29)
    ]

    first = check_expiring_certificates(now=NOW)
    second = check_expiring_certificates(now=NOW)

    assert first.scanned == second.scanned == 8
    assert first.status_changes == {"Active -> Expired": 1, "Active -> Expiring": 7}
    assert sum(first.created.values()) == 8  # one per certificate: its most urgent threshold, or EXPIRED
    assert second.deduped == sum(first.created.values())
    assert NotificationEvent.objects.count() == sum(first.created.values())
    assert AuditEvent.objects.filter(action="certificate_status_changed").count() == len(certs)
