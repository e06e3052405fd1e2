"""Quiet hours: non-critical alerts for a team wait, as `deferred` rows, until its window ends.

A team's window is a local wall-clock range in its own time zone (`22:00-07:00 Europe/Berlin`); it may wrap
midnight, and its end is computed on the local calendar, so a window across a DST change still ends at 07:00
local time. The expiry check writes the deferred rows (`deferred_until` = end of the window); `release_due`
turns them into `pending` rows once that moment has come, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.outbox import schedule_delivery

logger = logging.getLogger(__name__)

RELEASE_BATCH = 1_000


class QuietHoursFields(Protocol):
    """What `quiet_until` reads: a `certificates.Team`, or anything with the same three fields."""

    quiet_hours_start: time | None
    quiet_hours_end: time | None
    timezone: str


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The team's zone; an unknown name (old rows, raw SQL) counts as UTC rather than stopping the check."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def quiet_until(team: QuietHoursFields, now: datetime) -> datetime | None:
    """When the team's quiet hours end (UTC) if `now` is inside them, else None.

    Start is inside the window and end is not; start == end (or a missing bound) means no quiet hours.
    """
    start, end = team.quiet_hours_start, team.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    tz = zone(team.timezone)
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= wall < end, local.date()
    elif wall >= start:  # wrapped window, evening part: it ends tomorrow
        inside, end_day = True, local.date() + timedelta(days=1)
    else:  # wrapped window, morning part (or outside it)
        inside, end_day = wall < end, local.date()
    if not inside:
        return None
    # Wall time on the local calendar; converting through UTC settles an end inside a DST gap forward.
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)


def release_due(now: datetime | None = None) -> dict[str, int]:
    """Move `deferred` rows whose `deferred_until` has come to `pending` and schedule their delivery.

    Safe with several workers: each batch is claimed with `SELECT … FOR UPDATE SKIP LOCKED` and moved with an
    update conditional on the row still being deferred, so no row is released twice.
    """
    now = now or timezone.now()
    released = 0
    while True:
        batch = _release_batch(now)
        released += batch
        if batch < RELEASE_BATCH:
            break
    if released:
        logger.info("released deferred notifications", extra={"released": released})
    return {"released": released}


@transaction.atomic
def _release_batch(now: datetime) -> int:
    due = list(
        NotificationEvent.objects.filter(status=NotificationStatus.DEFERRED, deferred_until__lte=now)
        .order_by("deferred_until", "id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:RELEASE_BATCH]
    )
    if not due:
        return 0
    NotificationEvent.objects.filter(id__in=due, status=NotificationStatus.DEFERRED).update(
        status=NotificationStatus.PENDING, updated_at=now
    )
    schedule_delivery(due)
    return len(due)
