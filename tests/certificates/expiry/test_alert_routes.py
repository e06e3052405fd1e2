"""Routing order (policy, owner, team, defaults) as the check writes it, the alert-routes API answers it and the
certificate page shows it."""

from datetime import time, timedelta

import pytest
import time_machine

from certificates.expiry.services.check import check_expiring_certificates
from notifications.models import Destination, NotificationEvent
from tests.expiry_helpers import NOW, cert_expiring_in, policy
from tests.factories import OwnerFactory, TeamFactory

pytestmark = pytest.mark.django_db

CRITICAL_ONLY = {"critical": ["PagerDuty"]}


def destination(name, kind="slack", **fields) -> Destination:
    return Destination.objects.create(name=name, kind=kind, **fields)


def team_cert(delta, renewal_policy, **team_fields):
    team = TeamFactory(**team_fields)
    return cert_expiring_in(delta, renewal_policy, owner=OwnerFactory(team=team), team=team)


def routed(cert) -> list[tuple]:
    rows = NotificationEvent.objects.filter(certificate=cert).order_by("destination_name")
    return [(r.destination_name, r.threshold_days, r.recipient) for r in rows]


def test_policy_then_owner_then_team_each_destination_once():
    owner_policy = policy(
        alert_thresholds_days=[7],
        alert_channels={"warning": ["Slack"]},
        alert_owner_tiers=["warning"],
    )
    cert = team_cert(timedelta(days=3), owner_policy, name="Payments")
    payments_slack = destination("payments-slack", team=cert.team)
    destination("payments-pager", kind="pagerduty", team=cert.team, tiers=["critical"])
    destination("fallback", is_default=True)

    check_expiring_certificates(now=NOW)

    assert routed(cert) == [
        ("Email (environment)", 7, cert.owner.email),
        ("Slack (environment)", 7, "Slack"),
        ("payments-slack", 7, "payments-slack"),
    ]
    row = NotificationEvent.objects.get(destination=payments_slack)
    assert row.dedup_key.endswith(f":7:{payments_slack.id}")
    assert row.channel == "Slack"


def test_a_destination_named_by_the_policy_and_the_team_gets_the_alert_once():
    cert = team_cert(timedelta(days=3), policy(alert_thresholds_days=[7]), name="Ops")
    shared = destination("ops-slack", team=cert.team)
    type(cert.renewal_policy).objects.filter(pk=cert.renewal_policy_id).update(
        alert_channels={"warning": ["ops-slack", "Email"]}, alert_owner_tiers=["warning"]
    )

    check_expiring_certificates(now=NOW)

    assert routed(cert) == [("Email (environment)", 7, cert.owner.email), ("ops-slack", 7, "ops-slack")]
    assert NotificationEvent.objects.filter(destination=shared).count() == 1


def test_a_disabled_destination_is_skipped_and_an_unconfigured_built_in_one_still_gets_its_row(settings):
    """Unconfigured Slack keeps today's behaviour: a row that goes to the dead letter, visible and requeueable."""
    settings.SLACK_WEBHOOK_URL = ""
    cert = team_cert(
        timedelta(days=3), policy(alert_thresholds_days=[7], alert_channels={"warning": ["Slack"]})
    )
    destination("team-off", team=cert.team, enabled=False)
    on = destination("team-on", kind="webhook", team=cert.team)

    check_expiring_certificates(now=NOW)

    assert routed(cert) == [("Slack (environment)", 7, "Slack"), ("team-on", 7, "team-on")]
    assert not NotificationEvent.objects.filter(destination_name="team-off").exists()
    assert NotificationEvent.objects.filter(certificate=cert, destination=on).count() == 1


def test_defaults_are_used_only_when_no_other_route_applies():
    nothing_for_warning = policy(alert_thresholds_days=[7], alert_channels=CRITICAL_ONLY)
    lonely = team_cert(timedelta(days=3), nothing_for_warning)
    covered = team_cert(timedelta(days=3), nothing_for_warning)
    destination("covered-team", team=covered.team)
    destination("default-slack", is_default=True)
    destination("default-critical-only", kind="pagerduty", is_default=True, tiers=["critical"])
    destination("default-off", is_default=True, enabled=False)

    check_expiring_certificates(now=NOW)

    assert routed(lonely) == [("default-slack", 7, "default-slack")]
    assert routed(covered) == [("covered-team", 7, "covered-team")]


def test_existing_env_channel_policy_writes_the_same_rows_and_keys_as_before():
    cert = cert_expiring_in(
        timedelta(days=3), policy(alert_thresholds_days=[7], alert_channels={"warning": ["Slack", "Email"]})
    )

    check_expiring_certificates(now=NOW)

    rows = {r.channel: r for r in NotificationEvent.objects.filter(certificate=cert)}
    stamp = cert.expires_at.strftime("%Y%m%dT%H%M%S.%fZ")
    assert rows["Slack"].dedup_key == f"expiry:{cert.id}:{stamp}:7:Slack"
    assert rows["Email"].dedup_key == f"expiry:{cert.id}:{stamp}:7:Email"
    assert (rows["Slack"].destination_id, rows["Email"].destination_id) == (
        "dest-env-slack",
        "dest-env-email",
    )
    assert rows["Email"].recipient == cert.owner.email


def test_digest_team_gets_non_critical_alerts_in_the_digest_but_critical_ones_at_once():
    both = policy(alert_thresholds_days=[7, 0], alert_channels={"warning": [], "critical": []})
    warned = team_cert(timedelta(days=3), both, digest_enabled=True)
    destination("digest-team", team=warned.team)
    destination("default-slack", is_default=True)
    critical = cert_expiring_in(timedelta(hours=5), both, owner=warned.owner, team=warned.team)

    result = check_expiring_certificates(now=NOW)

    assert routed(warned) == []  # held for the digest; not a fallback to the defaults either
    assert routed(critical) == [("digest-team", 0, "digest-team")]
    assert result.skipped_no_channels == 0


def _routes(client, cert):
    with time_machine.travel(NOW, tick=False):
        return client.get(f"/api/v1/certificates/{cert.id}/alert-routes")


def test_alert_routes_api_answers_per_threshold_with_reasons(client_with_key, settings):
    settings.TEAMS_WEBHOOK_URL = ""
    rules = policy(
        alert_thresholds_days=[14, 7, 0],
        alert_channels={"warning": ["Slack", "Teams"], "critical": ["PagerDuty"]},
        alert_owner_tiers=["critical"],
    )
    cert = team_cert(
        timedelta(days=5),
        rules,
        name="Payments",
        quiet_hours_start=time(22),
        quiet_hours_end=time(7),
        timezone="Europe/Berlin",
    )
    team_dest = destination("payments-slack", team=cert.team, tiers=["critical"])
    destination("default-slack", is_default=True)

    response = _routes(client_with_key, cert)

    assert response.status_code == 200
    body = response.json()
    assert [(t["days"], t["label"], t["tier"], t["fired"]) for t in body["thresholds"]] == [
        (14, "14 days", "warning", True),
        (7, "7 days", "warning", True),
        (0, "0 days", "critical", False),
        (-1, "expired", "critical", False),
    ]
    seven = {d["name"]: d for d in body["thresholds"][1]["destinations"]}
    assert (seven["Slack (environment)"]["source"], seven["Slack (environment)"]["reason"]) == (
        "policy",
        "policy alert_channels[warning]",
    )
    # Unconfigured but named by the policy: still routed, so the alert waits visibly in the dead letter.
    teams = seven["Teams (environment)"]
    assert (teams["included"], teams["skipped_reason"]) == (True, "")
    assert (
        teams["reason"]
        == "policy alert_channels[warning]; its CERTCTL_* variables are not set, so these alerts wait in the dead letter"
    )
    assert seven["payments-slack"]["skipped_reason"] == "tier not accepted (accepts critical)"
    assert seven["default-slack"]["skipped_reason"] == "fallback only: an earlier route applies"
    critical = {d["name"]: d for d in body["thresholds"][2]["destinations"]}
    assert critical["Email (environment)"] == {
        "id": "dest-env-email",
        "name": "Email (environment)",
        "kind": "email",
        "source": "owner",
        "reason": "owner email (policy alert_owner_tiers)",
        "included": True,
        "skipped_reason": "",
        "recipient": cert.owner.email,
        "deferred_until": None,
    }
    assert critical["payments-slack"]["id"] == team_dest.id
    assert critical["payments-slack"]["reason"] == "team Payments"
    assert body["quiet_hours"] == {
        "configured": True,
        "start": "22:00",
        "end": "07:00",
        "timezone": "Europe/Berlin",
        "active": False,
        "until": None,
    }
    assert body["resolution_order"][0].startswith("policy:")
    assert body["owner_email"] == cert.owner.email


def test_alert_routes_show_quiet_hours_holding_non_critical_alerts(client_with_key):
    cert = team_cert(
        timedelta(days=5),
        policy(alert_thresholds_days=[7, 0]),
        quiet_hours_start=time(11),
        quiet_hours_end=time(15),
    )

    body = _routes(client_with_key, cert).json()

    assert body["quiet_hours"]["active"] is True
    assert body["quiet_hours"]["until"] == "2026-06-01T15:00:00Z"
    seven, zero = body["thresholds"][0]["destinations"][0], body["thresholds"][1]["destinations"][0]
    assert seven["deferred_until"] == "2026-06-01T15:00:00Z"
    assert zero["deferred_until"] is None  # critical goes at once


def test_alert_routes_of_an_unknown_certificate_is_a_404_envelope(client_with_key):
    response = client_with_key.get("/api/v1/certificates/cert-nope/alert-routes")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_alert_routes_are_in_the_openapi_document(client_with_key):
    text = client_with_key.get("/api/v1/schema/").content.decode()
    assert "/alert-routes" in text
    assert "AlertRouteDestination" in text


def test_certificate_page_shows_the_same_routes(admin_client):
    cert = team_cert(timedelta(days=5), policy(alert_thresholds_days=[7]), name="Payments")
    destination("payments-off", team=cert.team, enabled=False)

    with time_machine.travel(NOW, tick=False):
        page = admin_client.get(f"/admin/certificates/managedcertificate/{cert.id}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Who is alerted" in html
    assert "payments-off" in html and "no: disabled" in html
    assert "expired" in html
