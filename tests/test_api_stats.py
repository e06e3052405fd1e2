from datetime import timedelta

import pytest
import time_machine

from notifications.models import NotificationEvent
from tests.factories import AgentFactory, CertificateFactory, JobFactory, TargetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    from datetime import UTC, datetime

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        yield now


def test_summary_counts_certificates_agents_jobs_and_notifications(client_with_key, frozen):
    now = frozen
    CertificateFactory(status="Active", expires_at=now + timedelta(days=90))
    CertificateFactory(status="Active", expires_at=now + timedelta(days=10))  # expiring
    CertificateFactory(status="Expiring", expires_at=now + timedelta(days=30))  # expiring, boundary
    CertificateFactory(status="Active", expires_at=now - timedelta(days=1))  # expired by date
    CertificateFactory(status="Expired", expires_at=None)  # expired by status
    CertificateFactory(status="Revoked", expires_at=now + timedelta(days=5))  # revoked, not expiring
    CertificateFactory(status="Archived", expires_at=now + timedelta(days=5))  # out of every bucket
    AgentFactory(last_heartbeat_at=now - timedelta(seconds=30))
    AgentFactory(last_heartbeat_at=now - timedelta(hours=2))
    AgentFactory(last_heartbeat_at=None)
    AgentFactory(last_heartbeat_at=now, retired_at=now)
    for status in (
        "Pending",
        "AwaitingCSR",
        "AwaitingApproval",
        "Running",
        "Failed",
        "Completed",
        "Cancelled",
    ):
        JobFactory(status=status)
    for status in ("dead", "dead", "sent", "pending"):
        NotificationEvent.objects.create(
            type="ExpirationWarning", channel="Email", message="m", status=status
        )

    body = client_with_key.get("/api/v1/stats/summary").json()

    assert body["total_certificates"] == 6 + 7  # the jobs' certificates are Active, far from expiry
    assert body["expiring_certificates"] == 2
    assert body["expired_certificates"] == 2
    assert body["revoked_certificates"] == 1
    assert body["certificates_by_status"]["Archived"] == 1
    assert sum(body["certificates_by_status"].values()) == 14
    assert (body["active_agents"], body["offline_agents"], body["total_agents"]) == (1, 2, 3)
    assert (body["pending_jobs"], body["failed_jobs"], body["completed_jobs"]) == (4, 1, 1)
    assert body["notifications_dead"] == 2
    assert body["notifications_by_status"] == {"pending": 1, "sent": 1, "failed": 0, "dead": 2, "read": 0}
    assert body["generated_at"] == "2026-06-01T12:00:00.000000Z"


def test_summary_uses_a_fixed_number_of_queries(client_with_key, django_assert_max_num_queries):
    for _ in range(30):
        CertificateFactory()
    with django_assert_max_num_queries(6):  # auth (key lookup) + 4 aggregates
        assert client_with_key.get("/api/v1/stats/summary").status_code == 200


def test_certificate_list_query_count_does_not_grow_with_rows(client_with_key, django_assert_max_num_queries):
    for _ in range(25):
        cert = CertificateFactory()
        cert.targets.set([TargetFactory()])
    with django_assert_max_num_queries(6):  # auth, count, page, target prefetch
        body = client_with_key.get("/api/v1/certificates").json()
    assert all(len(c["target_ids"]) == 1 for c in body["data"])
