"""Webhook URLs, routing keys and API keys never reach last_error, logs, audit details or the API."""

from __future__ import annotations

import logging

import pytest

from audit.models import AuditEvent
from notifications.enums import Channel
from notifications.services.delivery import deliver_one
from notifications.services.test_send import send_test
from tests.notification_factories import NotificationEventFactory
from tests.sinks import (
    OPSGENIE_API_KEY,
    PAGERDUTY_ROUTING_KEY,
    SLACK_TOKEN_PATH,
    TEAMS_TOKEN_PATH,
    WEBHOOK_SECRET,
    point_channels_at,
)

pytestmark = pytest.mark.django_db

SECRETS = [SLACK_TOKEN_PATH, "slacktokensecret", TEAMS_TOKEN_PATH, PAGERDUTY_ROUTING_KEY, OPSGENIE_API_KEY]


@pytest.fixture
def echoing_sink(settings, http_sink):
    """A hostile endpoint: errors that echo back the request path and every key we know of."""
    point_channels_at(settings, http_sink)
    echo = (
        f"bad request to {SLACK_TOKEN_PATH} {TEAMS_TOKEN_PATH} key={PAGERDUTY_ROUTING_KEY} {OPSGENIE_API_KEY}"
    )
    http_sink.respond(503, body=echo)
    return http_sink


@pytest.mark.parametrize("channel", [Channel.SLACK, Channel.TEAMS, Channel.PAGERDUTY, Channel.OPSGENIE])
def test_secrets_are_absent_from_last_error_logs_and_api(echoing_sink, channel, caplog, client_with_key):
    caplog.set_level(logging.DEBUG)
    event = NotificationEventFactory(channel=channel)
    deliver_one(event.id)
    event.refresh_from_db()
    assert event.last_error.startswith("HTTP 503 from 127.0.0.1")
    api_text = client_with_key.get(f"/api/v1/notifications/{event.id}").content.decode()
    for secret in SECRETS:
        assert secret not in event.last_error
        assert secret not in caplog.text
        assert secret not in api_text
    assert "***" in event.last_error


def test_connection_errors_report_the_host_only(settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/services/T000/B000/tokentokentoken"
    event = NotificationEventFactory(channel=Channel.SLACK)
    deliver_one(event.id)
    event.refresh_from_db()
    assert event.last_error == "connection error to 127.0.0.1: ConnectionError"
    assert "tokentokentoken" not in caplog.text


def test_test_send_audit_details_hold_no_secret(echoing_sink):
    result = send_test("pagerduty", actor="alice", actor_type="User")
    assert not result.ok
    details = str(AuditEvent.objects.get(action="notification_test_sent").details)
    assert PAGERDUTY_ROUTING_KEY not in details and PAGERDUTY_ROUTING_KEY not in result.detail


def test_webhook_url_token_and_signing_secret_are_absent_from_last_error_logs_and_api(
    settings, http_sink, caplog, client_with_key
):
    caplog.set_level(logging.DEBUG)
    token_path = "/hooks/receiver/webhooktokensecret"
    point_channels_at(settings, http_sink)
    settings.WEBHOOK_URL = http_sink.url_for(token_path)
    http_sink.respond(503, path="/hooks", body=f"no route {token_path} signed with {WEBHOOK_SECRET}")
    event = NotificationEventFactory(channel=Channel.WEBHOOK)
    deliver_one(event.id)
    event.refresh_from_db()
    assert http_sink.count(token_path) == 1
    assert event.last_error.startswith("HTTP 503 from 127.0.0.1")
    api_text = client_with_key.get(f"/api/v1/notifications/{event.id}").content.decode()
    for secret in ("webhooktokensecret", WEBHOOK_SECRET):
        assert secret not in event.last_error
        assert secret not in caplog.text
        assert secret not in api_text
