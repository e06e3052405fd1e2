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
    assert body["notifications_by_status"] == {
        "pending": 1,
        "sent": 1,
        "failed": 0,
        "dead": 2,
        "read": 0,
        "deferred": 0,
    }
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


def test_certificates_by_status_rebuckets_active_by_expiry(client_with_key, frozen):
    now = frozen
    CertificateFactory(status="Active", expires_at=now + timedelta(days=90))
    CertificateFactory(status="Active", expires_at=now + timedelta(days=3))
    CertificateFactory(status="Active", expires_at=now - timedelta(days=3))
    CertificateFactory(status="Revoked", expires_at=now - timedelta(days=3))
    body = client_with_key.get("/api/v1/stats/certificates-by-status").json()
    assert {row["status"]: row["count"] for row in body} == {
        "Active": 1,
        "Expiring": 1,
        "Expired": 1,
        "Revoked": 1,
    }


def test_expiration_timeline_has_one_entry_per_day_from_today(client_with_key, frozen):
    now = frozen
    CertificateFactory(expires_at=now + timedelta(hours=3))  # today
    CertificateFactory(expires_at=now + timedelta(days=2))
    CertificateFactory(expires_at=now + timedelta(days=2, hours=1))
    CertificateFactory(expires_at=now + timedelta(days=2), status="Archived")  # not live
    CertificateFactory(expires_at=now + timedelta(days=10))  # outside the window
    body = client_with_key.get("/api/v1/stats/expiration-timeline?days=7").json()
    assert len(body) == 7
    assert body[0] == {"date": "2026-06-01", "count": 1}
    assert body[2] == {"date": "2026-06-03", "count": 2}
    assert sum(day["count"] for day in body) == 3


def test_job_trends_count_outcomes_per_completion_day(client_with_key, frozen):
    now = frozen
    JobFactory(status="Completed", completed_at=now - timedelta(hours=1))
    JobFactory(status="Completed", completed_at=now - timedelta(hours=2))
    JobFactory(status="Failed", completed_at=now - timedelta(hours=3))
    JobFactory(status="Failed", completed_at=now - timedelta(days=1))
    JobFactory(status="Completed", completed_at=now - timedelta(days=40))  # outside the window
    body = client_with_key.get("/api/v1/stats/job-trends?days=3").json()
    assert [day["date"] for day in body] == ["2026-05-30", "2026-05-31", "2026-06-01"]
    assert body[-1] == {"date": "2026-06-01", "completed_count": 2, "failed_count": 1, "success_rate": 66.7}
    assert body[1]["success_rate"] == 0.0
    assert body[0] == {"date": "2026-05-30", "completed_count": 0, "failed_count": 0, "success_rate": 0.0}


def test_issuance_rate_counts_certificates_added_per_day(client_with_key, frozen):
    for _ in range(3):
        CertificateFactory()
    body = client_with_key.get("/api/v1/stats/issuance-rate?days=2").json()
    assert body == [{"date": "2026-05-31", "issued_count": 0}, {"date": "2026-06-01", "issued_count": 3}]


@pytest.mark.parametrize("days", ["0", "366", "x", "-1"])
def test_stats_days_out_of_range_is_a_400(client_with_key, days):
    response = client_with_key.get(f"/api/v1/stats/job-trends?days={days}")
    assert response.status_code == 400
    assert "days" in response.json()["fields"]
