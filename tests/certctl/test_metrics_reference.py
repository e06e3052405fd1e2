"""/metrics: the reference product's inventory series, issuance duration and failures, heartbeat ages, and the
shipped Grafana dashboard and alert rules, which may only use series that /metrics exports."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certctl.services import heartbeat
from certificates.enums import IssuerType
from certificates.issuance.issuers import registry
from certificates.issuance.issuers.base import IssuerBackend, IssuerError
from certificates.issuance.services.issuance import (
    CSRInvalid,
    IssueRequest,
    IssuerFailed,
    ProfileViolation,
    issue_from_csr,
    issue_many,
)
from certificates.revocation.services import crl as crl_cache
from notifications.enums import Channel
from notifications.services.delivery import deliver_one
from tests.factories import AgentFactory, CertificateFactory, IssuerFactory, JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
METRIC_NAME = re.compile(r"\bcertctl_[a-z_]+")


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]

    def get() -> str:
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
        assert response.status_code == 200
        return response.content.decode()

    return get


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} not exported"
    return float(match.group(1))


def _estate(now) -> None:
    """Certificates in every bucket, agents online, offline and retired, and jobs in every state."""
    CertificateFactory.create_batch(2, status="Active", expires_at=now + timedelta(days=90))
    CertificateFactory(status="Active", expires_at=now + timedelta(days=10))  # expiring
    CertificateFactory(status="Expiring", expires_at=now + timedelta(days=20))  # expiring
    CertificateFactory(status="Active", expires_at=now - timedelta(days=1))  # expired by date
    CertificateFactory(status="Expired", expires_at=None)  # expired by status
    CertificateFactory(status="Revoked", expires_at=now + timedelta(days=5))  # revoked, not expiring
    CertificateFactory(status="Archived", expires_at=now + timedelta(days=5))  # in no bucket
    AgentFactory(last_heartbeat_at=now - timedelta(seconds=30))
    AgentFactory(last_heartbeat_at=now - timedelta(hours=2))
    AgentFactory(last_heartbeat_at=None)
    AgentFactory(last_heartbeat_at=now, retired_at=now)
    for status in ("Pending", "AwaitingCSR", "Running", "Failed", "Completed", "Completed", "Cancelled"):
        JobFactory(status=status)  # each on its own Active certificate, far from expiry


def test_reference_inventory_series_equal_the_stats_summary(scrape, client_with_key):
    _estate(timezone.now())

    text = scrape()
    summary = client_with_key.get("/api/v1/stats/summary").json()

    expected = {
        "certctl_certificate_total": summary["total_certificates"],
        "certctl_certificate_expiring_soon": summary["expiring_certificates"],
        "certctl_certificate_expired": summary["expired_certificates"],
        "certctl_certificate_revoked": summary["revoked_certificates"],
        "certctl_agent_total": summary["total_agents"],
        "certctl_agent_online": summary["active_agents"],
        "certctl_job_pending": summary["pending_jobs"],
        "certctl_job_completed_total": summary["completed_jobs"],
        "certctl_job_failed_total": summary["failed_jobs"],
    }
    assert {name: _value(text, name) for name in expected} == expected
    assert expected == {
        "certctl_certificate_total": 7 + 7,  # the seven above that are not archived, and the jobs' seven
        "certctl_certificate_expiring_soon": 2,
        "certctl_certificate_expired": 2,
        "certctl_certificate_revoked": 1,
        "certctl_agent_total": 3,
        "certctl_agent_online": 1,
        "certctl_job_pending": 3,
        "certctl_job_completed_total": 2,
        "certctl_job_failed_total": 1,
    }
    assert _value(text, "certctl_certificate_active") == 14 - 2 - 2 - 1
    for status, n in summary["certificates_by_status"].items():
        assert _value(text, f'certctl_certificates{{status="{status}"}}') == n
    assert "# TYPE certctl_certificate_total gauge" in text
    assert "# TYPE certctl_job_completed_total counter" in text
    assert "# TYPE certctl_job_failed_total gauge" in text  # a retried job leaves Failed


def test_reference_series_take_the_same_queries_for_any_number_of_rows(scrape, django_assert_max_num_queries):
    _estate(timezone.now())
    with CaptureQueriesContext(connection) as few:
        scrape()
    CertificateFactory.create_batch(40)
    JobFactory.create_batch(10, status="Completed")
    with django_assert_max_num_queries(len(few.captured_queries)):
        scrape()


def test_uptime_is_the_age_of_this_server_process(scrape):
    text = scrape()
    uptime = _value(text, "certctl_uptime_seconds")
    assert uptime > 0
    assert uptime == pytest.approx(time.time() - _value(text, "process_start_time_seconds"), abs=5)


def test_heartbeat_ages_are_exported_and_a_missing_one_is_infinite(scrape):
    heartbeat.stamp("worker", now=timezone.now() - timedelta(seconds=40))
    text = scrape()
    assert 40 <= _value(text, 'certctl_heartbeat_age_seconds{process="worker"}') < 60
    assert _value(text, 'certctl_heartbeat_age_seconds{process="beat"}') == float("inf")


def test_crl_next_update_is_exported_per_issuer(scrape):
    root = make_root()
    stored = crl_cache.regenerate(root.pk)
    text = scrape()
    assert _value(text, f'certctl_crl_next_update_timestamp_seconds{{issuer="{root.pk}"}}') == (
        stored.next_update.timestamp()
    )
    assert "# TYPE certctl_crl_next_update_timestamp_seconds gauge" in text


def test_issuance_duration_and_failures_move_with_issuances(scrape):
    root = make_root()
    first, second, refused = (issuable_certificate(root) for _ in range(3))
    issue_from_csr(first, make_csr(names_of(first))[0], actor="alice")
    with pytest.raises(CSRInvalid):
        issue_from_csr(refused, "not a CSR", actor="alice")
    with pytest.raises(ProfileViolation):
        issue_from_csr(refused, make_csr(["elsewhere.example.test"])[0], actor="alice")
    outcomes = issue_many(
        [
            IssueRequest(second, make_csr(names_of(second))[0]),
            IssueRequest(refused, make_csr(["elsewhere.example.test"])[0]),
        ],
        actor="processor",
    )
    assert [type(o.error) for o in outcomes] == [type(None), ProfileViolation]
    without_ca = issuable_certificate(IssuerFactory(type="local"))
    with pytest.raises(IssuerFailed):
        issue_from_csr(without_ca, make_csr(names_of(without_ca))[0], actor="alice")

    text = scrape()
    assert "# TYPE certctl_issuance_duration_seconds histogram" in text
    assert _value(text, 'certctl_issuance_duration_seconds_count{issuer_type="local"}') == 2
    assert _value(text, 'certctl_issuance_duration_seconds_bucket{issuer_type="local",le="+Inf"}') == 2
    assert 0 < _value(text, 'certctl_issuance_duration_seconds_sum{issuer_type="local"}') < 5
    failures = 'certctl_issuance_failures_total{{error_class="{}",issuer_type="local"}}'
    assert _value(text, failures.format("validation")) == 3
    assert _value(text, failures.format("other")) == 1
    assert _value(text, failures.format("timeout")) == 0  # every class is exported before its first failure


class _UnreachableCA(IssuerBackend):
    """An issuer whose CA does not answer in time."""

    def issue(self, request):
        try:
            raise TimeoutError("timed out")
        except TimeoutError as exc:
            raise IssuerError("no answer from the CA", permanent=False) from exc

    def revoke(self, serial_hex, reason):
        return None

    def test(self, now=None):
        raise NotImplementedError


def test_an_issuer_timeout_is_counted_as_timeout(scrape, monkeypatch):
    monkeypatch.setitem(registry.BACKENDS, IssuerType.VAULT_PKI, _UnreachableCA)
    cert = issuable_certificate(IssuerFactory(type=IssuerType.VAULT_PKI))
    with pytest.raises(IssuerFailed):
        issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    text = scrape()
    assert _value(text, 'certctl_issuance_failures_total{error_class="timeout",issuer_type="VaultPKI"}') == 1
    assert _value(text, 'certctl_issuance_failures_total{error_class="other",issuer_type="VaultPKI"}') == 0


def _names_in_contrib() -> set[str]:
    dashboard = json.loads((CONTRIB / "grafana" / "certctl.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    expressions += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    rules = yaml.safe_load((CONTRIB / "prometheus" / "certctl-alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert alerts and all(rule["labels"]["severity"] in ("warning", "critical") for rule in alerts)
    expressions += [rule["expr"] for rule in alerts]
    return {name for expr in expressions for name in METRIC_NAME.findall(expr)}


def test_every_series_the_dashboard_and_alert_rules_use_is_exported(
    scrape, settings, http_sink, django_capture_on_commit_callbacks
):
    point_channels_at(settings, http_sink)
    _estate(timezone.now())
    root = make_root()
    crl_cache.regenerate(root.pk)
    cert = issuable_certificate(root)
    with django_capture_on_commit_callbacks(execute=True):
        issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    deliver_one(NotificationEventFactory(channel=Channel.SLACK).id)
    heartbeat.stamp("worker")
    heartbeat.stamp("beat")

    text = scrape()
    exported = {
        re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    used = _names_in_contrib()
    assert {"certctl_certificate_expired", "certctl_issuance_duration_seconds_bucket"} <= used
    # Compared with the sample names, so a histogram counts by its _bucket, _sum and _count series (its bare name
    # selects nothing) and a counter by its _total series.
    assert sorted(used - exported) == []
    histograms = {name for name in used if re.sub(r"_(bucket|sum|count)$", "", name) != name}
    assert all(f"# TYPE {re.sub(r'_(bucket|sum|count)$', '', name)} histogram" in text for name in histograms)
