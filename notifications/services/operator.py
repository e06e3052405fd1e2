"""Operator actions on notifications (API, admin, CLI): requeue, bulk requeue, mark read. Each is audited."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.destinations import destination_q
from notifications.services.outbox import schedule_delivery

REQUEUEABLE = (NotificationStatus.FAILED, NotificationStatus.DEAD)
READABLE = (NotificationStatus.SENT, NotificationStatus.DEAD, NotificationStatus.READ)
AUDIT_ID_LIMIT = 1000
# Bulk requeues schedule one delivery task per row up to this many; the pending sweep takes the rest.
FAST_PATH_LIMIT = 1000


class InvalidTransition(Exception):
    """The notification is not in a state that allows the action (the API answers 409)."""

    def __init__(self, event: NotificationEvent, action: str, allowed: Sequence[str]) -> None:
        super().__init__(
            f"cannot {action} a notification in status {event.status!r} (allowed: {', '.join(allowed)})"
        )
        self.event = event


_RESET = dict(
    status=NotificationStatus.PENDING, retry_count=0, next_retry_at=None, last_error=None, claimed_until=None
)


def requeue(event_id: str, *, actor: str, actor_type: str) -> NotificationEvent:
    """Reset a failed or dead row to pending with a fresh retry budget, and deliver it after commit.

    Raises NotificationEvent.DoesNotExist (404) or InvalidTransition (409).
    """
    now = timezone.now()
    with transaction.atomic():
        event = NotificationEvent.objects.select_for_update().get(pk=event_id)
        if event.status not in REQUEUEABLE:
            raise InvalidTransition(event, "requeue", REQUEUEABLE)
        previous = {"status": event.status, "retry_count": event.retry_count}
        NotificationEvent.objects.filter(pk=event.pk).update(**_RESET, updated_at=now)
        record(
            "notification_requeued",
            resource_type="notification",
            resource_id=event.pk,
            actor=actor,
            actor_type=actor_type,
            details={"channel": event.channel, "previous": previous},
            now=now,
        )
        schedule_delivery([event.pk])
    event.refresh_from_db()
    return event


def requeue_many(
    *,
    actor: str,
    actor_type: str,
    statuses: Sequence[str] = REQUEUEABLE,
    channel: str | None = None,
    ids: Sequence[str] | None = None,
    destination_id: str | None = None,
) -> list[str]:
    """Requeue every failed/dead row matching the filters (status subset, channel, destination, ids); returns
    the ids."""
    now = timezone.now()
    wanted = [status for status in statuses if status in REQUEUEABLE]
    with transaction.atomic():
        queryset = NotificationEvent.objects.filter(status__in=wanted)
        if channel:
            queryset = queryset.filter(channel=channel)
        if ids is not None:
            queryset = queryset.filter(pk__in=list(ids))
        if destination_id:
            queryset = queryset.filter(destination_q(destination_id))
        locked = list(
            queryset.select_for_update(skip_locked=True).order_by("created_at").values_list("pk", flat=True)
        )
        if locked:
            NotificationEvent.objects.filter(pk__in=locked, status__in=wanted).update(
                **_RESET, updated_at=now
            )
        record(
            "notifications_requeued",
            resource_type="notification",
            resource_id="bulk",
            actor=actor,
            actor_type=actor_type,
            details={
                "count": len(locked),
                "filter": {
                    "status": list(wanted),
                    "channel": channel,
                    "destination_id": destination_id,
                    "ids": list(ids or [])[:AUDIT_ID_LIMIT],
                },
                "requeued_ids": locked[:AUDIT_ID_LIMIT],
            },
            now=now,
        )
        schedule_delivery(locked[:FAST_PATH_LIMIT])
    return locked


def mark_read(event_id: str, *, actor: str, actor_type: str) -> NotificationEvent:
    """Acknowledge a delivered or dead notification. Pending/failed rows are still being delivered (409)."""
    now = timezone.now()
    with transaction.atomic():
        event = NotificationEvent.objects.select_for_update().get(pk=event_id)
        if event.status not in READABLE:
            raise InvalidTransition(event, "mark as read", READABLE)
        if event.status != NotificationStatus.READ:
            previous = event.status
            NotificationEvent.objects.filter(pk=event.pk).update(
                status=NotificationStatus.READ, updated_at=now
            )
            record(
                "notification_marked_read",
                resource_type="notification",
                resource_id=event.pk,
                actor=actor,
                actor_type=actor_type,
                details={"channel": event.channel, "previous": {"status": previous}},
                now=now,
            )
    event.refresh_from_db()
    return event
