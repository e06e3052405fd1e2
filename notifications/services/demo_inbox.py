"""The demo receiver's inbox: what a channel sent, made readable and stored, capped in size and in number.

`make run` points every channel the operator left unconfigured at the demo receiver
(notifications/demo/receiver.py), which hands each message it gets to `record_http` or `record_email`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from email import message_from_bytes, policy

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.enums import Channel
from notifications.models import DemoInboxMessage

RECEIVER_HOST = "127.0.0.1"
# A message is a few kB; the caps only matter when something floods the receiver.
MAX_BODY_CHARS = 16_000
MAX_MESSAGES = 1_000
HTTP_CHANNELS = {
    "webhook": Channel.WEBHOOK,
    "slack": Channel.SLACK,
    "teams": Channel.TEAMS,
    "pagerduty": Channel.PAGERDUTY,
    "opsgenie": Channel.OPSGENIE,
}
# Where each channel's payload (notifications/channels/) carries its one-line summary, in order of preference.
SUMMARY_PATHS: dict[str, list[tuple]] = {
    Channel.WEBHOOK: [("subject",)],
    Channel.SLACK: [("blocks", 0, "text", "text"), ("text",)],
    Channel.TEAMS: [("summary",), ("attachments", 0, "content", "body", 0, "text")],
    Channel.PAGERDUTY: [("payload", "summary")],
    Channel.OPSGENIE: [("message",)],
}


def channel_for_path(path: str) -> str | None:
    """`/slack/demo` -> Slack: the first path segment names the channel (see `receiver_urls`)."""
    first = path.split("?", 1)[0].strip("/").split("/", 1)[0]
    return HTTP_CHANNELS.get(first.lower())


def receiver_urls(http_port: int) -> dict[str, str]:
    """The URL `make run` gives each HTTP channel when it points the channel at the receiver."""
    base = f"http://{RECEIVER_HOST}:{http_port}"
    return {channel: f"{base}/{segment}/demo" for segment, channel in HTTP_CHANNELS.items()}


def receiver_channels() -> list[str]:
    """The channels whose settings point at the demo receiver (the ones `make run` found unconfigured)."""
    prefix = f"http://{RECEIVER_HOST}:{settings.DEMO_RECEIVER_HTTP_PORT}/"
    urls = {
        Channel.WEBHOOK: settings.WEBHOOK_URL,
        Channel.SLACK: settings.SLACK_WEBHOOK_URL,
        Channel.TEAMS: settings.TEAMS_WEBHOOK_URL,
        Channel.PAGERDUTY: settings.PAGERDUTY_EVENTS_URL if settings.PAGERDUTY_ROUTING_KEY else "",
        Channel.OPSGENIE: settings.OPSGENIE_API_URL if settings.OPSGENIE_API_KEY else "",
    }
    found = [str(channel) for channel, url in urls.items() if url.startswith(prefix)]
    smtp_here = settings.SMTP_HOST == RECEIVER_HOST and settings.SMTP_PORT == settings.DEMO_RECEIVER_SMTP_PORT
    return ([str(Channel.EMAIL)] if smtp_here else []) + found


def record_http(channel: str, method: str, path: str, body: bytes, *, now: datetime | None = None):
    """Store one HTTP call: a JSON body pretty-printed, its summary taken where the channel puts it."""
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    readable = json.dumps(payload, indent=2, ensure_ascii=False) if payload is not None else text
    summary = _summary(channel, payload) if isinstance(payload, dict) else ""
    return _store(channel, f"{method} {path}", summary, readable, now)


def record_email(mail_from: str, rcpt_tos: Iterable[str], content: bytes, *, now: datetime | None = None):
    """Store one email: its main headers and plain-text body (the HTML alternative says the same)."""
    message = message_from_bytes(content, policy=policy.default)
    headers = "\n".join(
        f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Date") if message[name]
    )
    part = message.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if part is not None else ""
    recipients = ", ".join(f"<{address}>" for address in rcpt_tos)
    request = f"MAIL FROM:<{mail_from}> RCPT TO:{recipients}"
    return _store(Channel.EMAIL, request, str(message["Subject"] or ""), f"{headers}\n\n{text}", now)


def _summary(channel: str, payload: dict) -> str:
    for path in SUMMARY_PATHS.get(channel, []):
        value = payload
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        if isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0].strip("*")
    return ""


def _capped(text: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    return text[:MAX_BODY_CHARS] + f"\n… [{len(text) - MAX_BODY_CHARS} more characters not stored]"


def _store(channel: str, request: str, summary: str, body: str, now: datetime | None) -> DemoInboxMessage:
    """Insert the message and drop the oldest beyond MAX_MESSAGES, in one transaction."""
    with transaction.atomic():
        message = DemoInboxMessage.objects.create(
            received_at=now or timezone.now(),
            channel=channel,
            request=request[:512],
            summary=summary[:255],
            body=_capped(body),
        )
        newest = DemoInboxMessage.objects.order_by("-received_at", "-id").values_list(
            "received_at", flat=True
        )
        oldest_kept = list(newest[MAX_MESSAGES - 1 : MAX_MESSAGES])
        if oldest_kept:
            DemoInboxMessage.objects.filter(received_at__lt=oldest_kept[0]).delete()
    return message
