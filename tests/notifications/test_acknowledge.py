"""Acknowledging a critical alert: the API, the admin action and the signed one-click link; each audited once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from notifications.channels.ack_links import ack_token, ack_url
from notifications.enums import Channel
from notifications.models import NotificationEvent
from tests.factories import CertificateFactory, RenewalPolicyFactory
from tests.notifications.critical_alerts import critical_alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(db):
    policy = RenewalPolicyFactory(escalation_after_minutes=30, escalation_steps=[["Slack"]])
    return CertificateFactory(renewal_policy=policy, expires_at=timezone.now() + timedelta(hours=12))


@pytest.fixture
def incident(certificate):
    """An alert to the owner's email and to PagerDuty, both waiting to escalate, and one escalation copy."""
    due = timezone.now() + timedelta(minutes=30)
    email = critical_alert(certificate, escalation_due_at=due)
    pagerduty = critical_alert(certificate, channel=Channel.PAGERDUTY, escalation_due_at=due)
    copy = critical_alert(
        certificate,
        channel=Channel.SLACK,
        dedup_key=f"escalation:{email.id}:1:Slack",
        escalation_step=1,
        escalated_from=email,
    )
    return email, pagerduty, copy


def _acks():
    return AuditEvent.objects.filter(action="notification_acknowledged")


def test_api_ack_acknowledges_the_whole_incident_and_stops_its_escalation(client_with_key, incident):
    email, pagerduty, copy = incident
    other_cert_alert = critical_alert(CertificateFactory(), escalation_due_at=timezone.now())

    response = client_with_key.post(f"/api/v1/notifications/{pagerduty.id}/ack")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["acknowledged_by"], body["rows_acknowledged"]) == (
        "acknowledged",
        "automation",
        3,
    )
    assert body["notification"]["id"] == pagerduty.id
    for row in (email, pagerduty, copy):
        row.refresh_from_db()
        assert row.acknowledged_by == "automation" and row.acknowledged_at is not None
        assert row.escalation_due_at is None
    other_cert_alert.refresh_from_db()
    assert other_cert_alert.acknowledged_at is None and other_cert_alert.escalation_due_at is not None
    audit = _acks().get()
    assert (audit.resource_id, audit.actor, audit.details["via"]) == (pagerduty.id, "automation", "api")


def test_a_second_ack_answers_200_with_the_first_acknowledgement(client_with_key, incident):
    email, pagerduty, _ = incident
    first = client_with_key.post(f"/api/v1/notifications/{email.id}/ack").json()
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        again = client_with_key.post(f"/api/v1/notifications/{pagerduty.id}/ack")
    assert again.status_code == 200
    assert again.json()["status"] == "already_acknowledged"
    assert again.json()["acknowledged_at"] == first["acknowledged_at"]
    assert _acks().count() == 1


def test_ack_of_an_unknown_notification_is_404_with_the_envelope(client_with_key):
    response = client_with_key.post("/api/v1/notifications/notif-nope/ack")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_ack_needs_an_api_key(api_client, incident):
    assert api_client.post(f"/api/v1/notifications/{incident[0].id}/ack").status_code in (401, 403)


def test_admin_action_acknowledges_selected_alerts_as_the_user(client, incident):
    email, pagerduty, _ = incident
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.test", "pw-ops-123"))
    response = client.post(
        "/admin/notifications/notificationevent/",
        {"action": "acknowledge_selected", "_selected_action": [email.id, pagerduty.id]},
        follow=True,
    )
    page = response.content.decode()
    assert "Acknowledged 1 alert(s) and their incidents." in page
    assert "1 were already acknowledged." in page
    pagerduty.refresh_from_db()
    assert pagerduty.acknowledged_by == "ops"
    audit = _acks().get()
    assert (audit.actor, audit.actor_type, audit.details["via"]) == ("ops", "User", "admin")


# --- the one-click link ---------------------------------------------------------------------------------


@pytest.fixture
def browser():
    """A client that enforces CSRF like a real browser session would, and sends no API key."""
    return Client(enforce_csrf_checks=True)


def _path(url: str, settings) -> str:
    assert url.startswith(f"{settings.PUBLIC_URL}/api/v1/notifications/ack/")
    return url.removeprefix(settings.PUBLIC_URL)


def test_ack_url_is_for_unacknowledged_critical_alerts_only_and_costs_no_query(
    incident, certificate, django_assert_num_queries
):
    email = incident[0]
    warning = critical_alert(certificate, severity_tier="warning", dedup_key="w", incident_key="")
    with django_assert_num_queries(0):
        assert ack_url(email) is not None
        assert ack_url(warning) is None
        assert ack_url(NotificationEvent(type="RenewalFailure", severity_tier="critical")) is None
    email.acknowledged_at = timezone.now()
    assert ack_url(email) is None


def test_get_shows_a_confirmation_and_does_not_acknowledge(browser, incident, settings):
    email = incident[0]
    response = browser.get(_path(ack_url(email), settings))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<form method="post">' in page and email.subject in page
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
    email.refresh_from_db()
    assert email.acknowledged_at is None
    assert not _acks().exists()


def test_post_acknowledges_and_a_second_use_shows_who_did_it(browser, incident, settings):
    email, pagerduty, _ = incident
    path = _path(ack_url(email), settings)

    response = browser.post(path, {"name": "Alice  Admin"})

    assert response.status_code == 200
    assert "Acknowledged" in response.content.decode()
    pagerduty.refresh_from_db()
    assert pagerduty.acknowledged_by == f"Alice Admin (link sent to {email.recipient})"
    audit = _acks().get()
    assert (audit.actor_type, audit.details["via"], audit.details["rows_acknowledged"]) == (
        "Anonymous",
        "link",
        3,
    )

    for again in (browser.get(path), browser.post(path)):
        assert again.status_code == 200
        page = again.content.decode()
        assert "already acknowledged" in page and "Alice Admin" in page
        assert pagerduty.acknowledged_at.strftime("%Y-%m-%d %H:%M:%S UTC") in page
    assert _acks().count() == 1


def test_an_expired_link_is_a_clear_410_page(browser, incident, settings):
    path = _path(ack_url(incident[0]), settings)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.NOTIFICATION_ACK_LINK_MAX_AGE + 60)):
        for response in (browser.get(path), browser.post(path)):
            assert response.status_code == 410
            assert "expired" in response.content.decode()
    incident[0].refresh_from_db()
    assert incident[0].acknowledged_at is None


@pytest.mark.parametrize(
    "forge",
    [
        lambda event_id: ack_token(event_id)[:-2] + "xx",  # tampered signature
        lambda event_id: signing.dumps(event_id, salt="another.purpose"),  # signed for something else
        lambda event_id: signing.dumps(event_id, salt="certctl.ack", key="not-our-secret-key"),
        lambda event_id: "garbage",
    ],
)
def test_a_forged_link_is_a_clear_400_page(browser, incident, forge):
    response = browser.post(f"/api/v1/notifications/ack/{forge(incident[0].id)}")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    incident[0].refresh_from_db()
    assert incident[0].acknowledged_at is None


def test_a_link_to_a_deleted_alert_is_410(browser, incident, settings):
    path = _path(ack_url(incident[0]), settings)
    NotificationEvent.objects.filter(pk=incident[0].pk).delete()
    assert browser.get(path).status_code == 410
