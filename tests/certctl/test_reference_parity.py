"""The reference (Go) product's names served beside ours: /api/v1/auth/info, the JSON metrics and the Prometheus alias
under /api/v1/metrics, the stats summary's keys, and the approval pending-age histogram (issue 22)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from certctl.api.models import ApiKey
from certctl.kernel.credentials import generate_key, hash_key
from certificates.issuance.models import ApprovalRequest
from certificates.issuance.services import approvals
from certificates.issuance.services.renewal import request_renewal
from notifications.enums import NotificationStatus
from tests.factories import AgentFactory, CertificateFactory, JobFactory, ProfileFactory
from tests.issuance_helpers import issuable_certificate, make_root
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_with_key(api_client):
    """A key with the default rights, made without the admin flag or scopes (they are being reworked, issue 20)."""
    raw = generate_key()
    ApiKey.objects.create(name="parity", key_prefix=raw[:12], key_hash=hash_key(raw))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api_client


METRICS_JSON = "/api/v1/metrics"
PROMETHEUS_ALIAS = "/api/v1/metrics/prometheus"


def _estate(now) -> None:
    CertificateFactory.create_batch(2, status="Active", expires_at=now + timedelta(days=90))
    CertificateFactory(status="Active", expires_at=now + timedelta(days=10))  # expiring
    CertificateFactory(status="Active", expires_at=now - timedelta(days=1))  # expired
    CertificateFactory(status="Revoked", expires_at=now + timedelta(days=5))
    AgentFactory(last_heartbeat_at=now - timedelta(seconds=30))
    AgentFactory(last_heartbeat_at=None)
    for status in ("Pending", "Running", "Failed", "Completed", "Completed"):
        JobFactory(status=status)
    NotificationEventFactory(status=NotificationStatus.DEAD)


def test_auth_info_answers_without_a_key_that_a_key_is_required(api_client):
    response = api_client.get("/api/v1/auth/info")
    assert response.status_code == 200
    assert response.json() == {"auth_type": "api-key", "required": True}


def test_json_metrics_carry_the_reference_keys_computed_from_the_data(client_with_key):
    now = timezone.now()
    _estate(now)
    response = client_with_key.get(METRICS_JSON)
    assert response.status_code == 200
    body = response.json()
    # 5 jobs were made on 5 more Active certificates far from expiry: 10 live certificates in all.
    assert body["gauge"] == {
        "certificate_total": 10,
        "certificate_active": 7,
        "certificate_expiring_soon": 1,
        "certificate_expired": 1,
        "certificate_revoked": 1,
        "agent_total": 2,
        "agent_online": 1,
        "job_pending": 2,
    }
    assert body["counter"] == {
        "job_completed_total": 2,
        "job_failed_total": 1,
        "notifications_dead_total": 1,
    }
    uptime = body["uptime"]
    assert set(uptime) == {"uptime_seconds", "server_started", "measured_at"}
    started = datetime.fromisoformat(uptime["server_started"].replace("Z", "+00:00"))
    measured = datetime.fromisoformat(uptime["measured_at"].replace("Z", "+00:00"))
    assert started <= measured and abs((measured - now.astimezone(UTC)).total_seconds()) < 60
    assert uptime["uptime_seconds"] == pytest.approx((measured - started).total_seconds(), abs=1)


def test_json_metrics_need_a_key_or_an_allowed_address_as_metrics_does(api_client, settings):
    settings.METRICS_ALLOWED_IPS = []
    refused = api_client.get(METRICS_JSON, REMOTE_ADDR="192.0.2.7")
    assert refused.status_code == 401 and refused.json()["error"]
    assert refused["WWW-Authenticate"] == 'Bearer realm="certctl"'
    bad_key = api_client.get(METRICS_JSON, HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="192.0.2.7")
    assert bad_key.status_code == 401
    settings.METRICS_ALLOWED_IPS = ["192.0.2.0/24"]
    assert api_client.get(METRICS_JSON, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_prometheus_alias_serves_what_metrics_serves_with_the_same_protection(
    client, client_with_key, settings
):
    settings.METRICS_ALLOWED_IPS = []
    assert client.get(PROMETHEUS_ALIAS, REMOTE_ADDR="192.0.2.7").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 401
    response = client_with_key.get(PROMETHEUS_ALIAS)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert re.search(r"^certctl_certificate_total 0\.0$", text, re.MULTILINE)
    assert "certctl_approval_pending_age_seconds_bucket" in text


def test_stats_summary_answers_the_reference_keys_beside_ours(client_with_key):
    _estate(timezone.now())
    body = client_with_key.get("/api/v1/stats/summary").json()
    assert body["complete_jobs"] == body["completed_jobs"] == 2
    assert body["completed_at"] == body["generated_at"]
    reference_keys = {
        "total_certificates",
        "expiring_certificates",
        "expired_certificates",
        "revoked_certificates",
        "active_agents",
        "offline_agents",
        "total_agents",
        "pending_jobs",
        "failed_jobs",
        "complete_jobs",
        "notifications_dead",
        "completed_at",
    }
    assert reference_keys <= set(body)


def _bucket(text: str, le: str) -> float:
    match = re.search(
        rf'^certctl_approval_pending_age_seconds_bucket\{{le="{re.escape(le)}"\}} (\S+)$', text, re.MULTILINE
    )
    assert match, f"bucket {le} not exported"
    return float(match.group(1))


def test_approval_pending_age_is_observed_when_decided_and_exported(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    root = make_root()
    gated = ProfileFactory(requires_approval=True)
    requests = []
    for _ in range(3):
        job = request_renewal(issuable_certificate(root, profile=gated), actor="alice")
        requests.append(ApprovalRequest.objects.get(job=job))
    before = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert _bucket(before, "+Inf") == 0
    created = requests[0].created_at
    approvals.approve(requests[0], actor="bob", now=created + timedelta(seconds=30))
    approvals.reject(requests[1], actor="bob", now=created + timedelta(minutes=45))
    approvals.approve(requests[2], actor="bob", now=created + timedelta(days=2))
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert [
        _bucket(text, le) for le in ("60.0", "300.0", "1800.0", "3600.0", "21600.0", "86400.0", "+Inf")
    ] == [
        1,
        1,
        1,
        2,
        2,
        2,
        3,
    ]
    assert re.search(r"^certctl_approval_pending_age_seconds_count 3\.0$", text, re.MULTILINE)
    total = float(re.search(r"^certctl_approval_pending_age_seconds_sum (\S+)$", text, re.MULTILINE).group(1))
    assert total == pytest.approx(30 + 45 * 60 + 2 * 86400, abs=5)
