"""Each channel against a real loopback sink: exact payloads, signatures, email MIME parts, error classes."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps

from certificates.expiry.services.routing import alert_text
from notifications.enums import Channel, NotificationStatus, SeverityTier
from notifications.services.delivery import deliver_one
from tests.notification_factories import NotificationEventFactory
from tests.sinks import (
    OPSGENIE_API_KEY,
    PAGERDUTY_ROUTING_KEY,
    SLACK_TOKEN_PATH,
    WEBHOOK_SECRET,
    point_channels_at,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def channels(settings, http_sink, smtp_sink):
    point_channels_at(settings, http_sink, smtp_sink)
    settings.SLACK_CHANNEL = "#pki-alerts"
    return http_sink


def _deliver(**fields):
    event = NotificationEventFactory(**fields)
    status = deliver_one(event.id)
    event.refresh_from_db()
    return event, status


def test_slack_payload_has_text_and_block_kit_blocks(channels):
    event, status = _deliver(
        channel=Channel.SLACK, subject="Expiring soon", message="api.example.test: 7 days"
    )
    assert status == "sent" and event.status == NotificationStatus.SENT and event.sent_at is not None
    (request,) = channels.received("/slack")
    assert request.path == SLACK_TOKEN_PATH
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "text": "*Expiring soon*\napi.example.test: 7 days",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Expiring soon"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "api.example.test: 7 days"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "certctl · ExpirationWarning"}]},
        ],
        "channel": "#pki-alerts",
        "username": "certctl",
    }


def test_teams_message_card_matches_the_reference_shape(channels):
    _deliver(channel=Channel.TEAMS, subject="Renewed", message="done", type="RenewalSuccess")
    (request,) = channels.received("/teams")
    assert request.json() == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": "0076D7",
        "summary": "Renewed",
        "sections": [{"activityTitle": "Renewed", "text": "done", "markdown": True}],
    }


def test_teams_adaptive_format_posts_an_adaptive_card_for_workflows(channels, settings):
    settings.TEAMS_FORMAT = "adaptive"
    channels.respond(202, path="/teams", body="")
    event, _ = _deliver(channel=Channel.TEAMS, subject="Renewed", message="done")
    assert event.status == NotificationStatus.SENT
    body = channels.received("/teams")[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert [block["text"] for block in card["body"]] == ["Renewed", "done"]


def test_pagerduty_event_maps_the_alert_tier_and_sends_a_stable_dedup_key(channels):
    channels.respond(202, path="/pagerduty", body='{"status":"success"}')
    event, _ = _deliver(
        channel=Channel.PAGERDUTY,
        subject="EXPIRED",
        message="gone",
        recipient="PagerDuty",
        severity_tier=SeverityTier.CRITICAL,
        threshold_days=0,
    )
    assert event.status == NotificationStatus.SENT
    (request,) = channels.received("/pagerduty")
    assert request.path == "/pagerduty/v2/enqueue"
    assert request.json() == {
        "routing_key": PAGERDUTY_ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": f"certctl-{event.id}-ExpirationWarning",
        "payload": {
            "summary": "EXPIRED",
            "severity": "critical",
            "source": "certctl",
            "custom_details": {
                "body": "gone",
                "recipient": "PagerDuty",
                "type": "ExpirationWarning",
                "threshold_days": 0,
            },
        },
    }


def test_pagerduty_without_a_tier_uses_the_configured_default_severity(channels, settings):
    settings.PAGERDUTY_SEVERITY = "error"
    _deliver(channel=Channel.PAGERDUTY)
    assert channels.received("/pagerduty")[0].json()["payload"]["severity"] == "error"


def test_opsgenie_alert_uses_genie_key_header_priority_and_alias(channels):
    event, _ = _deliver(channel=Channel.OPSGENIE, subject="Expiring", message="7 days left")
    (request,) = channels.received("/opsgenie")
    assert request.headers["Authorization"] == f"GenieKey {OPSGENIE_API_KEY}"
    assert request.json() == {
        "message": "Expiring",
        "alias": f"certctl-{event.id}-ExpirationWarning",
        "description": "7 days left",
        "priority": "P3",
        "source": "certctl",
        "tags": ["certctl", "ExpirationWarning"],
        "details": {"recipient": "owner@example.test", "type": "ExpirationWarning"},
    }


def test_webhook_body_is_signed_over_timestamp_and_raw_body(channels):
    event, _ = _deliver(channel=Channel.WEBHOOK, subject="Revoked", message="[REVOKED] keyCompromise")
    (request,) = channels.received("/webhook")
    body = request.json()
    assert body == {
        "id": event.id,
        "type": "ExpirationWarning",
        "subject": "Revoked",
        "message": "[REVOKED] keyCompromise",
        "recipient": "owner@example.test",
        "certificate_id": None,
        "severity_tier": None,
        "threshold_days": None,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
    }
    timestamp = request.headers["X-Signature-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers["X-Signature"] == f"sha256={expected.hexdigest()}"
    assert request.headers["X-Signature-Algorithm"] == "sha256"
    assert request.headers["User-Agent"] == "certctl-notifier/1.0"
    # A receiver that checks the signature rejects a replayed body with a new timestamp.
    forged = hmac.new(
        WEBHOOK_SECRET.encode(), str(int(timestamp) + 600).encode() + b"." + request.body, "sha256"
    )
    assert f"sha256={forged.hexdigest()}" != request.headers["X-Signature"]


def test_webhook_without_a_secret_is_sent_unsigned(channels, settings):
    settings.WEBHOOK_SECRET = ""
    _deliver(channel=Channel.WEBHOOK)
    headers = channels.received("/webhook")[0].headers
    assert "X-Signature" not in headers and "X-Signature-Timestamp" not in headers


def test_email_is_plain_text_with_an_html_alternative(channels, smtp_sink):
    event, _ = _deliver(channel=Channel.EMAIL, subject="Expiring <soon>", message="Line 1\nLine <2>")
    assert event.status == NotificationStatus.SENT
    (message,) = smtp_sink.messages
    assert message["To"] == "owner@example.test"
    assert message["From"] == "certctl@example.test"
    assert message["Subject"] == "[certctl] Expiring <soon>"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert plain.replace("\r\n", "\n").strip() == "Line 1\nLine <2>"
    assert "<h2>Expiring &lt;soon&gt;</h2>" in html and "Line &lt;2&gt;" in html


def test_an_expiry_alert_subject_is_tagged_once(channels, smtp_sink):
    _deliver(channel=Channel.EMAIL, subject="[certctl] warning: certificate shop expires in 7 days")
    (message,) = smtp_sink.messages
    assert message["Subject"] == "[certctl] warning: certificate shop expires in 7 days"


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "hi\r\nBcc: victim@example.test"},
        {"recipient": "owner@example.test\nBcc: victim@example.test"},
        {"recipient": "not an address"},
    ],
)
def test_email_header_injection_or_bad_recipient_is_a_permanent_failure(channels, smtp_sink, fields):
    event, status = _deliver(channel=Channel.EMAIL, **fields)
    assert status == "dead" and event.retry_count == 1
    assert smtp_sink.messages == []


def test_email_temporary_smtp_rejection_is_retried_and_permanent_one_is_dead(channels, smtp_sink):
    smtp_sink.reject_with = "450 mailbox busy"
    event, _ = _deliver(channel=Channel.EMAIL)
    assert event.status == NotificationStatus.FAILED and event.next_retry_at is not None
    smtp_sink.reject_with = "550 no such user"
    event, _ = _deliver(channel=Channel.EMAIL)
    assert event.status == NotificationStatus.DEAD


def test_unconfigured_channel_goes_to_dead_with_a_visible_reason(settings):
    settings.SLACK_WEBHOOK_URL = ""
    event, status = _deliver(channel=Channel.SLACK)
    assert status == "dead"
    assert event.last_error == "channel Slack is not configured"
    assert event.sent_at is None and event.next_retry_at is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (400, "dead"),
        (404, "dead"),
        (408, "failed"),
        (425, "failed"),
        (429, "failed"),
        (500, "failed"),
        (503, "failed"),
    ],
)
def test_http_status_classification(channels, code, expected):
    channels.respond(code, path="/slack", body="nope")
    event, _ = _deliver(channel=Channel.SLACK)
    assert event.status == expected
    assert event.last_error == f"HTTP {code} from 127.0.0.1: nope"
    assert event.retry_count == 1


HOSTILE_NAME = "<!channel> <http://evil.example|click>"


def _expiry_alert_for(name: str, channel: str):
    """A real expiry alert (text from the expiry check's alert_text) for a certificate with this name."""
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    text = alert_text(
        certificate_id="cert-abc",
        name=name,
        common_name="[click](http://evil.example) **urgent** _x_",
        expires_at=now + timedelta(days=3),
        now=now,
        days=3,
        threshold=7,
        tier="warning",
        owner="Mallory <@U123> <mallory@example.test>",
        team="<b>ops</b> & co",
    )
    return _deliver(channel=channel, subject=text.subject, message=text.message)


def test_slack_escapes_mentions_and_disguised_links_in_text_and_blocks(channels):
    event, _ = _expiry_alert_for(HOSTILE_NAME, Channel.SLACK)
    assert event.status == NotificationStatus.SENT
    body = channels.received("/slack")[0].json()
    escaped = "&lt;!channel&gt; &lt;http://evil.example|click&gt;"
    section = body["blocks"][1]["text"]["text"]
    assert body["text"].startswith(f"*[certctl] warning: certificate {escaped} expires in 3 days*\n")
    assert f"Certificate: {escaped}" in body["text"] and f"Certificate: {escaped}" in section
    assert "Owner: Mallory &lt;@U123&gt; &lt;mallory@example.test&gt;" in section
    assert "Team: &lt;b&gt;ops&lt;/b&gt; &amp; co" in section
    for text in (body["text"], section, body["blocks"][2]["elements"][0]["text"]):
        assert "<" not in text and ">" not in text
    # The header is plain_text, which Slack never parses for mentions or links.
    assert body["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": f"[certctl] warning: certificate {HOSTILE_NAME} expires in 3 days",
    }


@pytest.mark.parametrize("teams_format", ["messagecard", "adaptive"])
def test_teams_neutralises_markdown_links_emphasis_and_html(channels, settings, teams_format):
    settings.TEAMS_FORMAT = teams_format
    event, _ = _expiry_alert_for(HOSTILE_NAME, Channel.TEAMS)
    assert event.status == NotificationStatus.SENT
    body = channels.received("/teams")[0].json()
    if teams_format == "adaptive":
        title, text = (block["text"] for block in body["attachments"][0]["content"]["body"])
    else:
        (section,) = body["sections"]
        title, text = section["activityTitle"], section["text"]
        assert body["summary"] == f"[certctl] warning: certificate {HOSTILE_NAME} expires in 3 days"
    assert title == (
        r"\[certctl\] warning: certificate &lt;!channel&gt; &lt;http://evil.example|click&gt; expires in 3 days"
    )
    assert r"Common name: \[click\](http://evil.example) \*\*urgent\*\* \_x\_" in text
    assert "Team: &lt;b&gt;ops&lt;/b&gt; &amp; co" in text
    assert "<" not in text and "](" not in text.replace(r"\](", "")


def test_smtp_login_without_tls_is_warned_about_once_at_start_up(settings, caplog):
    settings.SMTP_USERNAME, settings.SMTP_SECURITY = "certctl", "none"
    with caplog.at_level("WARNING", logger="notifications.channels.email"):
        apps.get_app_config("notifications").ready()
    (record,) = [r for r in caplog.records if r.name == "notifications.channels.email"]
    assert "CERTCTL_SMTP_SECURITY=none" in record.getMessage()
    assert "unencrypted" in record.getMessage()


@pytest.mark.parametrize(
    ("username", "security"), [("certctl", "starttls"), ("certctl", "tls"), ("", "none")]
)
def test_smtp_with_tls_or_without_login_is_not_warned_about(settings, caplog, username, security):
    settings.SMTP_USERNAME, settings.SMTP_SECURITY = username, security
    with caplog.at_level("WARNING", logger="notifications.channels.email"):
        apps.get_app_config("notifications").ready()
    assert not [r for r in caplog.records if r.name == "notifications.channels.email"]
