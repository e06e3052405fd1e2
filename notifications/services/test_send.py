"""Check a channel's configuration by sending a test message now (admin button, `send_test_notification`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from audit.services.record import record
from certctl.kernel.ids import new_id
from notifications.channels import DeliveryError, get_channel
from notifications.enums import Channel
from notifications.models import NotificationEvent

TEST_TYPE = "TestNotification"


@dataclass(frozen=True)
class TestResult:
    channel: str
    ok: bool
    detail: str


def resolve_channel(name: str) -> str:
    """The canonical channel name for a case-insensitive one ("slack" -> "Slack"); ValueError when unknown."""
    for choice in Channel:
        if choice.value.lower() == name.strip().lower():
            return choice.value
    raise ValueError(f"unknown channel {name!r} (choose from {', '.join(c.value for c in Channel)})")


def send_test(channel_name: str, *, actor: str, actor_type: str, recipient: str = "") -> TestResult:
    """Send one test message synchronously through `channel_name`; no outbox row, the result is audited."""
    channel_name = resolve_channel(channel_name)
    channel = get_channel(channel_name)
    now = timezone.now()
    event = NotificationEvent(
        id=new_id("notif"),
        type=TEST_TYPE,
        channel=channel_name,
        recipient=recipient
        or (settings.SMTP_FROM_ADDRESS if channel_name == Channel.EMAIL else channel_name),
        subject="certctl test notification",
        message=f"This is a test notification from certctl ({settings.PUBLIC_URL}) sent by {actor}.",
        created_at=now,
    )
    if not channel.is_configured():
        result = TestResult(channel_name, False, f"channel {channel_name} is not configured")
    else:
        try:
            channel.send(event)
            result = TestResult(channel_name, True, "delivered")
        except DeliveryError as exc:
            result = TestResult(channel_name, False, exc.message)
    record(
        "notification_test_sent",
        resource_type="notification_channel",
        resource_id=channel_name,
        actor=actor,
        actor_type=actor_type,
        details={"ok": result.ok, "detail": result.detail},
        now=now,
    )
    return result
