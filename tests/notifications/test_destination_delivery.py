"""Delivery to admin-configured destinations: each row reaches its own destination, a deleted, disabled or
undecryptable destination is a visible permanent failure, the last outcome is kept on the destination, and a
test send checks a destination now."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from notifications.channels.targets import write_secrets
from notifications.enums import KIND_CHANNEL, Channel, DestinationKind, NotificationStatus
from notifications.metrics import collect
from notifications.models import Destination
from notifications.services.delivery import deliver_one, process_pending
from notifications.services.operator import requeue
from notifications.services.outbox import enqueue
from notifications.services.test_send import send_test, send_test_to_destination
from tests.notification_factories import NotificationEventFactory
from tests.sinks import HTTPSink, point_channels_at

pytestmark = pytest.mark.django_db

PAYMENTS_TOKEN = "/slack/T0PAY/B0PAY/paymentstokensecret"
SEARCH_TOKEN = "/slack/T0SEA/B0SEA/searchtokensecret"


def make_destination(name: str, kind: str, *, config=None, secrets=None, **fields) -> Destination:
    destination = Destination(name=name, kind=kind, config=config or {}, **fields)
    write_secrets(destination, secrets or {})
    destination.save()
    return destination


def _row(destination: Destination, **fields):
    return NotificationEventFactory(
        channel=KIND_CHANNEL[destination.kind],
        destination=destination,
        destination_name=destination.name,
        **fields,
    )


def _deliver(event):
    deliver_one(event.id)
    event.refresh_from_db()
    return event


@pytest.fixture
def second_sink():
    sink = HTTPSink().start()
    yield sink
    sink.stop()


def test_two_slack_destinations_with_different_urls_each_get_their_own_message(http_sink, second_sink):
    payments = make_destination(
        "Payments Slack",
        DestinationKind.SLACK,
        config={"channel": "#payments"},
        secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)},
    )
    search = make_destination(
        "Search Slack", DestinationKind.SLACK, secrets={"webhook_url": second_sink.url_for(SEARCH_TOKEN)}
    )
    first = _row(payments, subject="payments cert expires")
    second = _row(search, subject="search cert expires")

    result = process_pending(min_age_seconds=0)

    assert result.sent == 2
    (to_payments,) = http_sink.received()
    (to_search,) = second_sink.received()
    assert to_payments.path == PAYMENTS_TOKEN and to_search.path == SEARCH_TOKEN
    assert to_payments.json()["channel"] == "#payments" and "channel" not in to_search.json()
    assert to_payments.json()["text"].startswith("*payments cert expires*")
    assert to_search.json()["text"].startswith("*search cert expires*")
    for event in (first, second):
        event.refresh_from_db()
        assert event.status == NotificationStatus.SENT
    payments.refresh_from_db()
    assert (payments.last_delivery_status, payments.last_delivery_error) == ("sent", "")
    assert payments.last_delivery_at is not None


def test_an_email_destination_sends_to_its_recipients_through_the_certctl_smtp_server(settings, smtp_sink):
    point_channels_at(settings, smtp=smtp_sink)
    team = make_destination(
        "PKI team mail",
        DestinationKind.EMAIL,
        config={
            "recipients": ["pki@example.test", "oncall@example.test"],
            "from_address": "pki-bot@example.test",
        },
    )
    event = _deliver(_row(team, recipient="owner@example.test", subject="Expiring"))

    assert event.status == NotificationStatus.SENT
    (message,) = smtp_sink.messages
    assert message["To"] == "pki@example.test, oncall@example.test"
    assert message["From"] == "pki-bot@example.test"
    assert smtp_sink.envelopes[0].rcpt_tos == ["pki@example.test", "oncall@example.test"]


def test_an_email_destination_with_its_own_server_needs_no_certctl_smtp_settings(settings, smtp_sink):
    settings.SMTP_HOST, settings.SMTP_FROM_ADDRESS = "", ""
    own = make_destination(
        "Own relay",
        DestinationKind.EMAIL,
        config={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "smtp_security": "none",
            "from_address": "relay@example.test",
        },
    )
    event = _deliver(_row(own, recipient="owner@example.test"))

    assert event.status == NotificationStatus.SENT
    assert smtp_sink.messages[0]["To"] == "owner@example.test"
    assert smtp_sink.messages[0]["From"] == "relay@example.test"


def test_a_recipient_with_a_line_break_is_refused_for_a_destination_too(settings, smtp_sink):
    point_channels_at(settings, smtp=smtp_sink)
    team = make_destination(
        "Injected", DestinationKind.EMAIL, config={"recipients": ["a@example.test\nBcc: victim@example.test"]}
    )
    event = _deliver(_row(team))
    assert event.status == NotificationStatus.DEAD and smtp_sink.messages == []
    assert "line break" in event.last_error


def test_a_row_whose_destination_was_deleted_is_dead_with_the_reason(http_sink):
    gone = make_destination(
        "Old Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    event = _row(gone)
    gone.delete()

    event = _deliver(event)

    assert event.status == NotificationStatus.DEAD
    assert event.last_error == "destination Old Slack was deleted"
    assert http_sink.received() == []


def test_a_disabled_destination_is_dead_and_goes_out_once_enabled_and_requeued(http_sink):
    paused = make_destination(
        "Paused Slack",
        DestinationKind.SLACK,
        enabled=False,
        secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)},
    )
    event = _deliver(_row(paused))
    assert (event.status, event.last_error) == (NotificationStatus.DEAD, "destination disabled")
    assert http_sink.received() == []

    Destination.objects.filter(pk=paused.pk).update(enabled=True)
    requeue(event.id, actor="alice", actor_type="User")
    event = _deliver(event)

    assert event.status == NotificationStatus.SENT and http_sink.count(PAYMENTS_TOKEN) == 1


def test_secrets_that_cannot_be_decrypted_are_a_clear_permanent_failure(http_sink, caplog):
    caplog.set_level(logging.DEBUG)
    broken = make_destination(
        "Broken Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    Destination.objects.filter(pk=broken.pk).update(encrypted_secrets="gAAAAA-not-a-fernet-token")

    event = _deliver(_row(broken))

    assert event.status == NotificationStatus.DEAD
    assert event.last_error.startswith("cannot decrypt the secrets of destination Broken Slack")
    broken.refresh_from_db()
    assert broken.last_delivery_status == "dead"
    assert broken.last_delivery_error == event.last_error


def test_a_failure_is_the_destinations_last_outcome_without_its_secret(http_sink, caplog):
    caplog.set_level(logging.DEBUG)
    slack = make_destination(
        "Echoing Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    http_sink.respond(503, body=f"no route to {PAYMENTS_TOKEN}")

    event = _deliver(_row(slack))

    slack.refresh_from_db()
    assert event.status == NotificationStatus.FAILED
    assert slack.last_delivery_status == "failed"
    assert slack.last_delivery_error == event.last_error == "HTTP 503 from 127.0.0.1: no route to /***"
    for text in (event.last_error, slack.last_delivery_error, caplog.text):
        assert "paymentstokensecret" not in text


def test_a_batch_updates_each_destination_once_with_its_latest_outcome(http_sink):
    slack = make_destination(
        "Busy Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    for _ in range(5):
        _row(slack)
    with CaptureQueriesContext(connection) as captured:
        assert process_pending(min_age_seconds=0).sent == 5
    updates = [q["sql"] for q in captured if q["sql"].startswith('UPDATE "notifications_destination"')]
    assert len(updates) == 1


def test_delivery_metrics_carry_the_destination_name(http_sink):
    slack = make_destination(
        "Metrics Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    _deliver(_row(slack))
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in collect()
        for sample in family.samples
    }
    labels = (("channel", "Slack"), ("destination", "Metrics Slack"))
    assert samples[("certctl_notification_deliveries_total", (*labels, ("result", "sent")))] == 1
    assert samples[("certctl_notification_delivery_seconds_count", labels)] == 1


# --- test send ------------------------------------------------------------------------------------------


def test_test_send_to_a_destination_delivers_now_and_records_the_outcome(http_sink):
    slack = make_destination(
        "Test Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    result = send_test_to_destination(slack, actor="alice", actor_type="User")

    assert (result.ok, result.detail, result.destination_id) == (True, "delivered", slack.pk)
    (request,) = http_sink.received()
    assert request.json()["text"].startswith("*certctl test notification*")
    assert "Test Slack" in request.json()["text"]
    slack.refresh_from_db()
    assert slack.last_delivery_status == "sent" and slack.last_delivery_at is not None
    audit = AuditEvent.objects.get(action="notification_test_sent")
    assert (audit.resource_type, audit.resource_id) == ("destination", slack.pk)
    assert audit.details["ok"] is True


def test_a_failed_test_send_answers_why_and_keeps_the_secret_out(http_sink):
    slack = make_destination(
        "Failing Slack", DestinationKind.SLACK, secrets={"webhook_url": http_sink.url_for(PAYMENTS_TOKEN)}
    )
    http_sink.respond(404, body=f"no such hook {PAYMENTS_TOKEN}")

    result = send_test_to_destination(slack, actor="alice", actor_type="User")

    assert not result.ok and result.detail == "HTTP 404 from 127.0.0.1: no such hook /***"
    slack.refresh_from_db()
    assert (slack.last_delivery_status, slack.last_delivery_error) == ("failed", result.detail)
    details = str(AuditEvent.objects.get(action="notification_test_sent").details)
    assert "paymentstokensecret" not in details


def test_test_send_follows_the_ssrf_rules(settings):
    settings.NOTIFICATION_ALLOWED_NETWORKS = []
    slack = Destination(name="Sneaky", kind=DestinationKind.SLACK)
    write_secrets(slack, {"webhook_url": "http://169.254.169.254/latest/meta-data"})
    slack.save()

    result = send_test_to_destination(slack, actor="alice", actor_type="User")

    assert not result.ok
    assert result.detail.startswith("refused to deliver to 169.254.169.254: 169.254.169.254 is a link-local")


def test_test_send_to_an_email_destination_goes_to_the_given_recipient(settings, smtp_sink):
    point_channels_at(settings, smtp=smtp_sink)
    mail = make_destination("Team mail", DestinationKind.EMAIL, config={"recipients": ["team@example.test"]})

    result = send_test_to_destination(mail, actor="alice", actor_type="User", recipient="me@example.test")

    assert result.ok
    assert smtp_sink.messages[0]["To"] == "me@example.test"


def test_the_channel_test_send_still_means_the_built_in_destination(settings, http_sink):
    point_channels_at(settings, http_sink)
    result = send_test("slack", actor="alice", actor_type="User")
    assert result.ok and result.destination_id == "dest-env-slack"
    assert Destination.objects.get(pk="dest-env-slack").last_delivery_status == "sent"


def test_a_row_naming_only_a_channel_goes_to_its_built_in_destination(settings, http_sink):
    point_channels_at(settings, http_sink)
    with_channel_only = enqueue(type="Revocation", channel=Channel.WEBHOOK, message="revoked")
    event = _deliver(with_channel_only)
    assert event.status == NotificationStatus.SENT and http_sink.count("/webhook") == 1
    assert Destination.objects.get(pk="dest-env-webhook").last_delivery_status == "sent"
