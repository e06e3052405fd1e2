"""The demo receiver of `make run`: every channel's alerts land in the admin's Inbox, capped, never a real channel."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from notifications.demo.receiver import MAX_REQUEST_BYTES, DemoReceiver
from notifications.enums import Channel, NotificationStatus
from notifications.models import DemoInboxMessage, NotificationEvent
from notifications.services import demo_inbox
from notifications.services.outbox import enqueue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def receiver(settings):
    """A running receiver with every channel pointed at it, as scripts/run-env.sh does for `make run`."""
    running = DemoReceiver(free_port(), free_port()).start()
    settings.DEMO_RECEIVER_HTTP_PORT = running.http_port
    settings.DEMO_RECEIVER_SMTP_PORT = running.smtp_port
    urls = demo_inbox.receiver_urls(running.http_port)
    settings.WEBHOOK_URL = urls[Channel.WEBHOOK]
    settings.WEBHOOK_SECRET = ""
    settings.SLACK_WEBHOOK_URL = urls[Channel.SLACK]
    settings.TEAMS_WEBHOOK_URL = urls[Channel.TEAMS]
    settings.PAGERDUTY_ROUTING_KEY, settings.PAGERDUTY_EVENTS_URL = (
        "demo-routing-key",
        urls[Channel.PAGERDUTY],
    )
    settings.OPSGENIE_API_KEY, settings.OPSGENIE_API_URL = "demo-api-key", urls[Channel.OPSGENIE]
    settings.SMTP_HOST, settings.SMTP_PORT, settings.SMTP_SECURITY = "127.0.0.1", running.smtp_port, "none"
    settings.SMTP_USERNAME = settings.SMTP_PASSWORD = ""
    settings.SMTP_FROM_ADDRESS = "certctl@localhost"
    yield running
    running.stop()


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.django_db(transaction=True)
def test_an_alert_on_every_channel_is_sent_and_shows_in_the_inbox_with_its_subject(receiver):
    assert demo_inbox.receiver_channels() == [c.value for c in Channel]
    with transaction.atomic():
        for channel in Channel:
            enqueue(
                type="ExpirationWarning",
                channel=channel,
                recipient="alice@example.com" if channel == Channel.EMAIL else "",
                subject="Certificate www.example.com expires in 7 days",
                message="www.example.com expires on 2026-12-13.\nRenew it or its owner is paged.",
            )
    statuses = set(NotificationEvent.objects.values_list("status", flat=True))
    assert statuses == {NotificationStatus.SENT}  # nothing in the dead letter

    inbox = {message.channel: message for message in DemoInboxMessage.objects.all()}
    assert set(inbox) == {c.value for c in Channel}
    for channel, message in inbox.items():
        assert "www.example.com expires in 7 days" in message.summary, channel
        assert "expires on 2026-12-13." in message.body, channel
    assert inbox["Slack"].request == "POST /slack/demo"
    assert '\n  "blocks": [' in inbox["Slack"].body  # JSON is pretty-printed to be read
    assert inbox["Email"].request == "MAIL FROM:<certctl@localhost> RCPT TO:<alice@example.com>"
    assert inbox["Email"].body.startswith(
        "From: certctl@localhost\nTo: alice@example.com\nSubject: [certctl]"
    )


def test_a_configured_channel_is_never_counted_as_the_receivers(settings):
    settings.DEMO_RECEIVER_HTTP_PORT = 8001
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.com/services/T0/B0/secret"
    settings.WEBHOOK_URL = "http://127.0.0.1:8001/webhook/demo"
    settings.PAGERDUTY_ROUTING_KEY = ""  # a URL without a key is no configured channel
    settings.PAGERDUTY_EVENTS_URL = "http://127.0.0.1:8001/pagerduty/demo"
    settings.SMTP_HOST = "smtp.example.com"
    assert "Slack" not in demo_inbox.receiver_channels()
    assert "Email" not in demo_inbox.receiver_channels()
    assert "PagerDuty" not in demo_inbox.receiver_channels()
    assert "Webhook" in demo_inbox.receiver_channels()


@pytest.mark.django_db(transaction=True)
def test_a_request_over_the_size_limit_is_refused_unread_and_an_unknown_path_is_not_found(receiver):
    base = f"http://127.0.0.1:{receiver.http_port}"
    with socket.create_connection(("127.0.0.1", receiver.http_port), timeout=10) as sock:
        sock.sendall(
            b"POST /slack/demo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_REQUEST_BYTES + 1)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413 ")  # answered before a byte of the body was sent
    assert post(f"{base}/nowhere", b"{}") == 404
    assert post(f"{base}/pagerduty/demo", b"not json") == 202
    assert DemoInboxMessage.objects.get().body == "not json"


@pytest.mark.django_db
def test_bodies_and_the_number_of_messages_are_capped(monkeypatch):
    monkeypatch.setattr(demo_inbox, "MAX_MESSAGES", 3)
    start = timezone.now()
    for minute in range(5):
        demo_inbox.record_http(
            "Webhook",
            "POST",
            "/webhook/demo",
            b'{"subject": "n%d"}' % minute,
            now=start.replace(minute=minute),
        )
    assert list(DemoInboxMessage.objects.values_list("summary", flat=True)) == ["n4", "n3", "n2"]

    huge = demo_inbox.record_http("Slack", "POST", "/slack/demo", b"y" * (demo_inbox.MAX_BODY_CHARS + 500))
    assert huge.body.endswith("[500 more characters not stored]")
    assert len(huge.body) < demo_inbox.MAX_BODY_CHARS + 100


@pytest.mark.django_db
def test_the_inbox_page_lists_newest_first_filters_by_channel_and_shows_the_body_read_only(client):
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.test", "pw-ops-123"))
    now = timezone.now()
    demo_inbox.record_http(
        "Slack", "POST", "/slack/demo", b'{"text": "*older alert*\\nsent first"}', now=now.replace(hour=1)
    )
    newest = demo_inbox.record_email(
        "certctl@localhost",
        ["alice@example.com"],
        b"From: certctl@localhost\r\nTo: alice@example.com\r\nSubject: [certctl] newer <alert>\r\n\r\nline 1\r\n",
        now=now.replace(hour=2),
    )
    url = "/admin/notifications/demoinboxmessage/"
    page = client.get(url).content.decode()
    assert page.index("[certctl] newer &lt;alert&gt;") < page.index("older alert")
    filtered = client.get(url, {"channel__exact": "Email"}).content.decode()
    assert "newer &lt;alert&gt;" in filtered and "older alert" not in filtered

    detail = client.get(f"{url}{newest.pk}/change/").content.decode()
    assert "Subject: [certctl] newer &lt;alert&gt;\n\nline 1" in detail
    assert "<pre" in detail
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{newest.pk}/delete/", {"post": "yes"}).status_code == 403
