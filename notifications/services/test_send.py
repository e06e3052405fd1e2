"""Check a destination's configuration by sending a test message now (API, admin button,
`send_test_notification`). The same SSRF rules and delivery deadline as any delivery apply; the outcome is
stored as the destination's last delivery and audited, without any secret."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from audit.services.record import record
from certctl.kernel import crypto
from certctl.kernel.ids import new_id
from notifications.channels import DeliveryError, get_channel
from notifications.channels.base import scrub
from notifications.channels.targets import Target, target_for
from notifications.enums import (
    CHANNEL_KIND,
    KIND_CHANNEL,
    Channel,
    DestinationSource,
    NotificationStatus,
    builtin_destination_id,
)
from notifications.models import Destination, NotificationEvent
from notifications.services.delivery_targets import record_outcome

logger = logging.getLogger(__name__)

TEST_TYPE = "TestNotification"


@dataclass(frozen=True)
class TestResult:
    channel: str
    ok: bool
    detail: str
    destination_id: str = ""


def resolve_channel(name: str) -> str:
    """The canonical channel name for a case-insensitive one ("slack" -> "Slack"); ValueError when unknown."""
    for choice in Channel:
        if choice.value.lower() == name.strip().lower():
            return choice.value
    raise ValueError(f"unknown channel {name!r} (choose from {', '.join(c.value for c in Channel)})")


def send_test(channel_name: str, *, actor: str, actor_type: str, recipient: str = "") -> TestResult:
    """Send one test message synchronously through the channel's built-in (environment) destination."""
    channel_name = resolve_channel(channel_name)
    dest_id = builtin_destination_id(channel_name)
    destination = Destination.objects.filter(pk=dest_id).first()
    if destination is None:  # a database without the built-in rows
        destination = Destination(
            id=dest_id,
            name=f"{channel_name} (environment)",
            kind=CHANNEL_KIND[channel_name],
            source=DestinationSource.ENVIRONMENT,
        )
    now = timezone.now()
    result = _send(destination, target_for(destination), actor=actor, recipient=recipient, now=now)
    record(
        "notification_test_sent",
        resource_type="notification_channel",
        resource_id=channel_name,
        actor=actor,
        actor_type=actor_type,
        details={"ok": result.ok, "detail": result.detail, "destination_id": dest_id},
        now=now,
    )
    return result


def send_test_to_destination(
    destination: Destination, *, actor: str, actor_type: str, recipient: str = ""
) -> TestResult:
    """Send one test message synchronously to `destination` (enabled or not: test before enabling); no outbox
    row. `recipient` replaces an email destination's recipients for this test. The outcome becomes the
    destination's last delivery and is audited (`notification_test_sent`)."""
    now = timezone.now()
    try:
        target = target_for(destination)
    except crypto.DecryptionError:
        target = None
    if target is None:
        channel = KIND_CHANNEL[destination.kind]
        detail = (
            f"cannot decrypt the secrets of destination {destination.name} (was CERTCTL_ENCRYPTION_KEY "
            "changed?); enter them again"
        )
        result = TestResult(channel, False, detail, destination.id)
        _remember(destination, result, now)
    else:
        result = _send(destination, target, actor=actor, recipient=recipient, now=now)
    record(
        "notification_test_sent",
        resource_type="destination",
        resource_id=destination.id,
        actor=actor,
        actor_type=actor_type,
        details={
            "ok": result.ok,
            "detail": result.detail,
            "destination": destination.name,
            "kind": destination.kind,
        },
        now=now,
    )
    return result


def _send(
    destination: Destination, target: Target, *, actor: str, recipient: str, now: datetime
) -> TestResult:
    channel = get_channel(target.channel)
    if recipient and target.channel == Channel.EMAIL:
        target = dataclasses.replace(target, config={**target.config, "recipients": [recipient]})
    default_recipient = settings.SMTP_FROM_ADDRESS if target.channel == Channel.EMAIL else target.channel
    event = NotificationEvent(
        id=new_id("notif"),
        type=TEST_TYPE,
        channel=target.channel,
        destination_id=destination.id,
        destination_name=destination.name,
        recipient=(recipient or target.get("from_address") or default_recipient)[:255],
        subject="certctl test notification",
        message=(
            f"This is a test notification from certctl ({settings.PUBLIC_URL}) to {destination.name}, "
            f"sent by {actor}."
        ),
        created_at=now,
    )
    missing = channel.missing(target)
    if missing:
        detail = (
            f"channel {channel.name} is not configured"
            if target.from_environment
            else f"destination {destination.name} is not configured (missing {', '.join(missing)})"
        )
        result = TestResult(target.channel, False, detail, destination.id)
    else:
        try:
            channel.send(event, target)
            result = TestResult(target.channel, True, "delivered", destination.id)
        except DeliveryError as exc:
            result = TestResult(target.channel, False, exc.message, destination.id)
        except Exception as exc:  # a bug in a channel is an answer, not a 500; never with a secret
            logger.error("test notification crashed", extra={"destination_id": destination.id})
            detail = scrub(f"unexpected {type(exc).__name__}: {exc}"[:300], target.secret_values())
            result = TestResult(target.channel, False, detail, destination.id)
    _remember(destination, result, now)
    return result


def _remember(destination: Destination, result: TestResult, now: datetime) -> None:
    if destination._state.adding:
        return
    status = NotificationStatus.SENT if result.ok else NotificationStatus.FAILED
    record_outcome(destination, status, "" if result.ok else result.detail, now)
