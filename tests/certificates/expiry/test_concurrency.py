"""Two (or more) expiry checks at the same moment on PostgreSQL create each alert once and move each status once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from audit.models import AuditEvent
from certificates.expiry.services.check import check_expiring_certificates
from notifications.models import NotificationEvent
from tests.expiry_helpers import FANOUT, NOW, cert_expiring_in, policy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _run_concurrently(workers: int) -> list:
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(check_expiring_certificates(now=NOW))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return results


def test_concurrent_checks_create_no_duplicate_alerts_audits_or_status_moves():
    fanout = policy(alert_channels=FANOUT)
    certs = [cert_expiring_in(timedelta(hours=10 + i % 12), fanout, status="Active") for i in range(40)]
    certs += [cert_expiring_in(timedelta(days=-1 - i % 3), status="Active") for i in range(20)]

    results = _run_concurrently(4)

    expected = 40 * 4 + 20 * 1  # each destination its most urgent threshold; an expired one its EXPIRED alert
    assert NotificationEvent.objects.count() == expected
    assert sum(sum(r.created.values()) for r in results) == expected
    assert sum(r.deduped for r in results) == expected * 3
    assert AuditEvent.objects.filter(action="expiration_alert_sent").count() == expected
    moves = AuditEvent.objects.filter(action="certificate_status_changed")
    assert moves.count() == len(certs)
    assert len(set(moves.values_list("resource_id", flat=True))) == len(certs)
    assert sum(sum(r.status_changes.values()) for r in results) == len(certs)
