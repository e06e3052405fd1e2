"""The retry ladder: what a delivery attempt turns a notification into. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from notifications.channels.base import DeliveryError
from notifications.enums import NotificationStatus


@dataclass(frozen=True)
class Outcome:
    """The fields an attempt writes; `result` is the metrics label (sent, failed, dead)."""

    status: str
    retry_count: int
    next_retry_at: datetime | None
    last_error: str | None
    sent_at: datetime | None

    @property
    def result(self) -> str:
        return self.status


def backoff_seconds(failed_attempts: int) -> float:
    """Wait after the N-th failed attempt: base · 2^(N-1), capped (60 s, 120 s, 240 s, 480 s, ... ≤ 1 h)."""
    exponent = min(max(failed_attempts - 1, 0), 32)  # 2^32 · base is past any cap; avoids huge ints
    return float(
        min(settings.NOTIFICATION_RETRY_BASE_SECONDS * 2**exponent, settings.NOTIFICATION_RETRY_CAP_SECONDS)
    )


def after_success(retry_count: int, now: datetime) -> Outcome:
    """Delivered: `retry_count` stays, so "delivered on attempt retry_count + 1" remains visible."""
    return Outcome(NotificationStatus.SENT, retry_count, None, None, now)


def after_failure(retry_count: int, error: DeliveryError, now: datetime) -> Outcome:
    """Failed attempt N = retry_count + 1: `failed` with the next wait, or `dead` when permanent or out of budget."""
    attempt = retry_count + 1
    if error.permanent or attempt >= settings.NOTIFICATION_MAX_ATTEMPTS:
        return Outcome(NotificationStatus.DEAD, attempt, None, error.message, None)
    wait = max(backoff_seconds(attempt), error.retry_after or 0.0)
    return Outcome(NotificationStatus.FAILED, attempt, now + timedelta(seconds=wait), error.message, None)
