"""The console's home page: tiles equal the stats API, each links to a list that counts the same, charts,
task-grouped navigation, and the entry points (`/`, the favicon)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from certctl.models import ProcessHeartbeat
from certctl.services import heartbeat
from certificates.demo_data import seed_demo
from certificates.expiry.services.check import check_expiring_certificates
from certificates.models import ManagedCertificate
from tests.factories import AgentFactory, CertificateFactory, JobFactory, TeamFactory
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(db):
    seed_demo()
    AgentFactory(last_heartbeat_at=timezone.now() - timedelta(hours=2))  # offline
    JobFactory(status="Failed")
    NotificationEventFactory(status="dead", last_error="HTTP 500")
    check_expiring_certificates()


def tiles(response) -> dict[str, tuple[str, str]]:
    return {
        tile.label: (tile.value, tile.url) for _, group in response.context["tile_groups"] for tile in group
    }


def listed(admin_client, url: str) -> int:
    return admin_client.get(url).context["cl"].result_count


def number(value: str) -> int:
    return int(value.replace(",", ""))


def test_every_count_tile_equals_the_stats_api_and_its_list(admin_client, admin_client_with_key, estate):
    summary = admin_client_with_key.get("/api/v1/stats/summary").json()
    shown = tiles(admin_client.get(reverse("admin:index")))
    expected = {
        "Expiring in 7 days": summary["expiring_within_7_days"],
        "Expiring in 30 days": summary["expiring_certificates"],
        "Expired": summary["expired_certificates"],
        "Dead-letter notifications": summary["notifications_dead"],
        "Failed jobs": summary["failed_jobs"],
        "Pending jobs": summary["pending_jobs"],
        "Agents online": summary["active_agents"],
        "Agents offline": summary["offline_agents"],
        **{
            label: count
            for label, count in summary["certificates_by_status"].items()
            if label != "RenewalInProgress"
        },
        "Renewal In Progress": summary["certificates_by_status"]["RenewalInProgress"],
    }
    assert summary["expiring_within_7_days"] > 0 and summary["offline_agents"] > 0  # the estate has some
    for label, count in expected.items():
        value, url = shown[label]
        assert number(value) == count, label
        assert listed(admin_client, url) == count, f"{label}: {url}"


def test_status_tiles_are_coloured_by_status_and_grey_when_empty(admin_client, estate):
    response = admin_client.get(reverse("admin:index"))
    by_label = {
        tile.label: tile
        for title, group in response.context["tile_groups"]
        for tile in group
        if title == "Certificates by status"
    }
    assert (by_label["Active"].tone, by_label["Expiring"].tone, by_label["Failed"].tone) == (
        "ok",
        "warn",
        "bad",
    )
    assert by_label["Pending"].tone == ""  # neutral status


def test_approvals_tile_counts_pending_requests_and_links_to_them(admin_client, estate):
    from certificates.models import ApprovalRequest, CertificateProfile, Job

    job = Job.objects.filter(status="AwaitingCSR").first()
    profile = CertificateProfile.objects.first()
    ApprovalRequest.objects.create(
        certificate=job.certificate, job=job, profile=profile, requested_by="alice"
    )
    value, url = tiles(admin_client.get(reverse("admin:index")))["Approvals waiting"]
    assert number(value) == 1 == listed(admin_client, url)


def test_heartbeat_tiles_turn_red_when_stale(admin_client, db, settings):
    heartbeat.stamp(ProcessHeartbeat.Kind.WORKER)
    heartbeat.stamp(
        ProcessHeartbeat.Kind.BEAT, now=timezone.now() - timedelta(seconds=settings.HEARTBEAT_INTERVAL * 4)
    )
    response = admin_client.get(reverse("admin:index"))
    by_label = {tile.label: tile for _, group in response.context["tile_groups"] for tile in group}
    assert by_label["Celery worker"].tone == "ok"
    assert (by_label["Celery beat"].tone, by_label["Celery beat"].note) == ("bad", "stale: is it running?")


def test_last_expiry_check_and_crl_state_are_shown(admin_client, estate):
    response = admin_client.get(reverse("admin:index"))
    by_label = {tile.label: tile for _, group in response.context["tile_groups"] for tile in group}
    check = by_label["Last expiry check"]
    assert re.fullmatch(r"\d+ s ago", check.value)
    assert "scanned" in check.note and "alerts" in check.note
    crl = by_label["CRL of demo-local-ca"]
    assert (crl.value, crl.tone) == ("not generated", "bad")  # the demo never generated one


def test_expiries_chart_stacks_the_next_weeks_by_team(admin_client, db):
    alpha, beta = TeamFactory(name="alpha"), TeamFactory(name="beta")
    soon = timezone.now() + timedelta(days=2)
    CertificateFactory.create_batch(2, team=alpha, expires_at=soon)
    CertificateFactory(team=beta, expires_at=soon)
    CertificateFactory(team=beta, expires_at=soon, status="Revoked")  # not counted
    CertificateFactory(team=beta, expires_at=timezone.now() + timedelta(days=200))  # beyond 90 days
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Expiries per week, next 90 days, by team" in page
    first_week = timezone.now().strftime("%d %b")
    assert f"<title>{first_week}: alpha 2</title>" in page
    assert f"<title>{first_week}: beta 1</title>" in page
    assert "<script" not in page.split('id="content-main"')[1]  # charts are plain SVG


def test_pages_are_grouped_by_task_with_system_tables_last(admin_client, db):
    groups = admin_client.get(reverse("admin:index")).context["app_list"]
    names = [group["name"] for group in groups]
    assert names == [
        "Inventory",
        "Issuance",
        "Revocation",
        "Discovery and compliance",
        "Alerts and notifications",
        "Agents",
        "Audit",
        "Access",
        "System",
    ]
    models = {group["name"]: [model["object_name"] for model in group["models"]] for group in groups}
    assert models["Inventory"][0] == "ManagedCertificate"
    assert {"ProcessHeartbeat", "MetricCounter", "CRLCache", "PeriodicTask"} <= set(models["System"])
    assert {"Destination", "NotificationEvent", "DeadLetterNotification", "ExpiryCheckRun"} <= set(
        models["Alerts and notifications"]
    )
    assert models["Discovery and compliance"][:2] == ["DiscoveredCertificate", "DiscoveryEndpoint"]
    assert {"ScanProfile", "ScanRun", "ComplianceRule", "Violation"} <= set(
        models["Discovery and compliance"]
    )
    sidebar = admin_client.get(reverse("admin:certificates_managedcertificate_changelist")).content.decode()
    assert sidebar.index(">Inventory<") < sidebar.index(">System<")


def test_root_and_favicon_lead_to_the_console_and_a_shipped_icon(client, db):
    assert client.get("/")["Location"] == reverse("admin:index")
    icon = client.get("/favicon.ico")["Location"]
    assert icon.endswith("certctl/favicon.svg")
    assert finders.find("certctl/favicon.svg")


def test_the_dashboard_needs_a_staff_login(client, db):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_expiry_filter_buckets_match_the_api_for_a_certificate_on_each_side_of_the_edges(admin_client, db):
    now = timezone.now()
    inside = CertificateFactory(expires_at=now + timedelta(days=6, hours=23))
    outside = CertificateFactory(expires_at=now + timedelta(days=7, hours=1))
    gone = CertificateFactory(expires_at=now - timedelta(minutes=1))
    url = reverse("admin:certificates_managedcertificate_changelist")
    seven = {c.pk for c in admin_client.get(url, {"expiry": "7d"}).context["cl"].result_list}
    assert inside.pk in seven and outside.pk not in seven and gone.pk not in seven
    expired = {c.pk for c in admin_client.get(url, {"expiry": "expired"}).context["cl"].result_list}
    assert expired == {gone.pk}
    assert ManagedCertificate.objects.count() == 3
