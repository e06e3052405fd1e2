"""The destinations' admin: add and change with write-only secrets, "Send test", read-only environment rows,
requeue and the notification lists by destination."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from notifications.channels.targets import read_secrets
from notifications.enums import Channel, NotificationStatus
from notifications.models import Destination, NotificationEvent
from tests.factories import RenewalPolicyFactory
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db
ADMIN = "/admin/notifications/destination/"
TOKEN_PATH = "/slack/T0ADMIN/B0ADMIN/admintokensecret"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.test", "pw-ops-123")
    client.force_login(user)
    return client


def add_slack(staff, http_sink, name: str = "payments-slack"):
    return staff.post(
        f"{ADMIN}add/",
        {
            "name": name,
            "kind": "slack",
            "tiers": ["warning", "critical"],
            "enabled": "on",
            "slack_webhook_url": http_sink.url_for(TOKEN_PATH),
            "slack_channel": "#payments",
        },
    )


def test_add_page_shows_every_kinds_settings_with_secrets_as_password_inputs(staff):
    page = staff.get(f"{ADMIN}add/").content.decode()
    for field in ("slack_webhook_url", "pagerduty_routing_key", "opsgenie_priority", "email_recipients"):
        assert f'name="{field}"' in page
    assert 'type="password" name="slack_webhook_url"' in page


def test_adding_a_destination_stores_its_secret_encrypted_and_never_shows_it_again(staff, http_sink):
    response = add_slack(staff, http_sink)
    assert response.status_code == 302
    destination = Destination.objects.get(name="payments-slack")
    assert destination.config == {"channel": "#payments"} and destination.tiers == ["warning", "critical"]
    assert read_secrets(destination) == {"webhook_url": http_sink.url_for(TOKEN_PATH)}
    assert "admintokensecret" not in destination.encrypted_secrets
    page = staff.get(f"{ADMIN}{destination.pk}/change/").content.decode()
    assert "admintokensecret" not in page and "host 127.0.0.1" in page and 'value="#payments"' in page
    audit = AuditEvent.objects.get(action="destination_created", resource_id=destination.pk)
    assert audit.actor == "ops" and "admintokensecret" not in str(audit.details)


def test_a_blank_secret_keeps_the_stored_one_and_a_refused_url_is_a_form_error(staff, http_sink, settings):
    add_slack(staff, http_sink)
    destination = Destination.objects.get(name="payments-slack")
    url = f"{ADMIN}{destination.pk}/change/"
    kept = staff.post(
        url, {"name": "payments-alerts", "enabled": "on", "slack_webhook_url": "", "slack_channel": ""}
    )
    assert kept.status_code == 302
    destination.refresh_from_db()
    assert destination.name == "payments-alerts" and destination.config == {}
    assert read_secrets(destination)["webhook_url"] == http_sink.url_for(TOKEN_PATH)

    settings.NOTIFICATION_ALLOWED_NETWORKS = []
    refused = staff.post(url, {"name": "payments-alerts", "slack_webhook_url": "http://169.254.169.254/hook"})
    assert refused.status_code == 200
    assert "CERTCTL_NOTIFICATION_ALLOWED_NETWORKS" in refused.content.decode()
    assert read_secrets(Destination.objects.get(pk=destination.pk))["webhook_url"] == http_sink.url_for(
        TOKEN_PATH
    )


def test_a_kind_without_its_required_secret_is_refused(staff):
    response = staff.post(f"{ADMIN}add/", {"name": "pager", "kind": "pagerduty", "enabled": "on"})
    assert response.status_code == 200 and "required" in response.content.decode()
    assert not Destination.objects.filter(name="pager").exists()


def test_environment_destinations_are_listed_read_only(staff):
    listing = staff.get(ADMIN).content.decode()
    assert "Slack (environment)" in listing and "from environment" in listing
    page = staff.get(f"{ADMIN}dest-env-slack/change/").content.decode()
    assert 'name="_save"' not in page and "Send test" in page
    assert staff.post(f"{ADMIN}dest-env-slack/change/", {"name": "mine"}).status_code == 403
    assert staff.post(f"{ADMIN}dest-env-slack/delete/", {"post": "yes"}).status_code == 403
    assert Destination.objects.get(pk="dest-env-slack").name == "Slack (environment)"


def test_send_test_button_sends_now_and_shows_the_outcome(staff, http_sink):
    add_slack(staff, http_sink)
    destination = Destination.objects.get(name="payments-slack")
    assert staff.get(f"{ADMIN}{destination.pk}/send-test/").status_code == 405
    page = staff.post(f"{ADMIN}{destination.pk}/send-test/", follow=True).content.decode()
    assert http_sink.count(TOKEN_PATH) == 1 and "payments-slack: delivered" in page.lower()
    destination.refresh_from_db()
    assert destination.last_delivery_at is not None
    listing = staff.get(ADMIN).content.decode()
    assert destination.last_delivery_status in listing

    http_sink.respond(500)
    staff.post(ADMIN, {"action": "send_test_selected", "_selected_action": [destination.pk]})
    destination.refresh_from_db()
    assert destination.last_delivery_error and "admintokensecret" not in destination.last_delivery_error


def test_requeue_by_destination_and_the_dead_letter_filter(staff):
    mine = Destination.objects.create(name="team-slack", kind="slack")
    dead = NotificationEventFactory(
        channel=Channel.SLACK, destination=mine, destination_name="team-slack", status=NotificationStatus.DEAD
    )
    other = NotificationEventFactory(
        channel=Channel.SLACK, status=NotificationStatus.DEAD, recipient="x@o.test"
    )
    filtered = staff.get("/admin/notifications/deadletternotification/", {"destination_id": mine.pk})
    page = filtered.content.decode()
    assert dead.id in page and other.id not in page and "team-slack" in page

    response = staff.post(
        ADMIN, {"action": "requeue_destinations", "_selected_action": [mine.pk]}, follow=True
    )
    assert "Requeued 1 notification(s)." in response.content.decode()
    assert NotificationEvent.objects.get(pk=dead.pk).status != NotificationStatus.DEAD
    assert NotificationEvent.objects.get(pk=other.pk).status == NotificationStatus.DEAD


def test_a_destination_a_policy_routes_to_cannot_be_deleted(staff):
    used = Destination.objects.create(name="lead-mail", kind="email")
    RenewalPolicyFactory(name="critical-web", alert_channels={"critical": ["lead-mail"]})
    page = staff.get(f"{ADMIN}{used.pk}/delete/", follow=True).content.decode()
    assert "critical-web" in page
    assert Destination.objects.filter(pk=used.pk).exists()

    unused = Destination.objects.create(name="spare-mail", kind="email")
    assert staff.post(f"{ADMIN}{unused.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Destination.objects.filter(pk=unused.pk).exists()
    assert AuditEvent.objects.filter(action="destination_deleted", resource_id=unused.pk).exists()
