"""Delivering notifications safely with many workers: claim with a lease, send outside transactions, write
the outcome only if the claim is still ours.

Every path (the on-commit fast path, the pending sweep, the retry sweep) claims rows the same way, so a row is
attempted once per due time however many workers run; a worker that dies leaves a lease that expires, and the
next sweep takes the row again (at-least-once, never stuck).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from certctl.kernel import counters
from certctl.kernel.metrics import observe_many
from notifications.channels import DeliveryError, get_channel
from notifications.channels.base import scrub
from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent
from notifications.services import ladder
from notifications.services.delivery_targets import Targets

logger = logging.getLogger(__name__)

DELIVERIES_TOTAL = "certctl_notification_deliveries_total"
DELIVERY_SECONDS = "certctl_notification_delivery_seconds"
PENDING_MIN_AGE_SECONDS = 60
# Successes are written in groups of at most this many rows; a crash re-sends at most these (at-least-once).
FLUSH_ROWS = 20


@dataclass
class SweepResult:
    """What one sweep did; printed by the management commands."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0
    lost_claims: int = 0
    _observations: list = field(default_factory=list, repr=False)
    _outcomes: Counter = field(default_factory=Counter, repr=False)
    _delivered: list = field(default_factory=list, repr=False)
    _targets: Targets = field(default_factory=Targets, repr=False)

    def add(self, other: SweepResult) -> None:
        for name in ("claimed", "sent", "failed", "dead", "released", "lost_claims"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("claimed", "sent", "failed", "dead", "released", "lost_claims")
        }


Clock = Callable[[], datetime]


def _clock(now: datetime | None) -> Clock:
    return (lambda: now) if now is not None else timezone.now


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)


def _unclaimed(now: datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _claim(queryset, order_by: str, now: datetime, batch_size: int) -> list[NotificationEvent]:
    """Lock a batch (skipping rows other workers hold), stamp our lease, commit; return the claimed rows."""
    lease = _lease_until(now)
    with transaction.atomic():
        rows = list(queryset.select_for_update(skip_locked=True).order_by(order_by, "id")[:batch_size])
        if rows:
            NotificationEvent.objects.filter(pk__in=[row.pk for row in rows]).update(claimed_until=lease)
    for row in rows:
        row.claimed_until = lease
    return rows


def claim_pending(now: datetime, batch_size: int, min_age_seconds: float = PENDING_MIN_AGE_SECONDS):
    """Pending rows the fast path has not delivered within `min_age_seconds`, and pending rows whose lease expired."""
    cutoff = now - timedelta(seconds=min_age_seconds)
    stale = Q(created_at__lte=cutoff, claimed_until__isnull=True) | Q(claimed_until__lt=now)
    queryset = NotificationEvent.objects.filter(stale, status=NotificationStatus.PENDING)
    return _claim(queryset, "created_at", now, batch_size)


def claim_due_retries(now: datetime, batch_size: int):
    """Failed rows whose next_retry_at has come (the partial retry index), oldest due first."""
    queryset = NotificationEvent.objects.filter(
        _unclaimed(now), status=NotificationStatus.FAILED, next_retry_at__isnull=False, next_retry_at__lte=now
    )
    return _claim(queryset, "next_retry_at", now, batch_size)


def claim_one(event_id: str, now: datetime) -> NotificationEvent | None:
    """Claim one pending row for the on-commit fast path (a single conditional UPDATE is the lock)."""
    lease = _lease_until(now)
    claimed = NotificationEvent.objects.filter(
        _unclaimed(now), pk=event_id, status=NotificationStatus.PENDING
    ).update(claimed_until=lease)
    if not claimed:
        return None
    return NotificationEvent.objects.filter(pk=event_id, claimed_until=lease).first()


def _send(event: NotificationEvent, targets: Targets) -> DeliveryError | None:
    get_channel(event.channel)  # an unknown channel name is a permanent error before anything else
    target = targets.target(event)
    channel = get_channel(target.channel)
    missing = channel.missing(target)
    if missing:
        if target.from_environment:
            return DeliveryError(f"channel {channel.name} is not configured", permanent=True)
        return DeliveryError(
            f"destination {target.name} is not configured (missing {', '.join(missing)})", permanent=True
        )
    try:
        channel.send(event, target)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # a bug in a channel must not stop the sweep; reported without a traceback
        message = scrub(f"unexpected {type(exc).__name__}: {exc}"[:300], target.secret_values())
        logger.error("notification channel crashed", extra={"event_id": event.id, "channel": event.channel})
        return DeliveryError(message)
    return None


def _longest_attempt() -> float:
    """An HTTP attempt ends by its deadline; an SMTP one is bounded by the per-step timeout only."""
    longest = max(settings.NOTIFICATION_DEADLINE_SECONDS, settings.NOTIFICATION_TIMEOUT_SECONDS)
    return longest + settings.NOTIFICATION_LEASE_MARGIN_SECONDS


def attempt(event: NotificationEvent, clock: Clock, result: SweepResult) -> str | None:
    """One delivery attempt of a claimed row.

    A failure is written at once; a success is queued on `result` and written with others by `flush_delivered`
    (one UPDATE per group instead of one per row). Returns the new status, or None if the claim was lost or
    given back.
    """
    claim = event.claimed_until
    if claim is not None and clock() + timedelta(seconds=_longest_attempt()) > claim:
        # Not enough lease left to finish: give the row back rather than risk a second worker sending it too.
        NotificationEvent.objects.filter(pk=event.pk, claimed_until=claim).update(claimed_until=None)
        result.released += 1
        return None
    started = time.monotonic()
    try:
        error = _send(event, result._targets)
    except DeliveryError as exc:  # unknown channel, deleted or disabled destination
        error = exc
    label = result._targets.label(event)
    result._observations.append(
        ({"channel": event.channel, "destination": label}, time.monotonic() - started)
    )
    if error is None:
        result._delivered.append(event)
        if len(result._delivered) >= FLUSH_ROWS:
            flush_delivered(result, clock)
        return NotificationStatus.SENT
    now = clock()
    outcome = ladder.after_failure(event.retry_count, error, now)
    updated = NotificationEvent.objects.filter(pk=event.pk, status=event.status, claimed_until=claim).update(
        status=outcome.status,
        retry_count=outcome.retry_count,
        next_retry_at=outcome.next_retry_at,
        last_error=outcome.last_error,
        sent_at=None,
        claimed_until=None,
        updated_at=now,
    )
    log_extra = {
        "event_id": event.id,
        "channel": event.channel,
        "destination": label,
        "attempt": event.retry_count + 1,
    }
    if not updated:
        result.lost_claims += 1
        logger.warning("notification claim lost before the outcome was written", extra=log_extra)
        return None
    setattr(result, outcome.status, getattr(result, outcome.status) + 1)
    result._outcomes[(event.channel, label, outcome.result)] += 1
    result._targets.note(event, outcome.status, outcome.last_error, now)
    logger.warning(
        "notification delivery failed: %s",
        outcome.last_error,
        extra={**log_extra, "status": outcome.status, "permanent": error.permanent},
    )
    return outcome.status


def flush_delivered(result: SweepResult, clock: Clock) -> None:
    """Write the queued successes: `sent`, `sent_at`, retry_count untouched, only where our claim still holds."""
    if not result._delivered:
        return
    now = clock()
    groups: dict[tuple, list[NotificationEvent]] = defaultdict(list)
    for event in result._delivered:
        groups[(event.status, event.claimed_until)].append(event)
    for (status, claim), events in groups.items():
        success = ladder.after_success(0, now)
        ids = [event.pk for event in events]
        updated = NotificationEvent.objects.filter(pk__in=ids, status=status, claimed_until=claim).update(
            status=success.status,
            sent_at=success.sent_at,
            next_retry_at=None,
            last_error=None,
            claimed_until=None,
            updated_at=now,
        )
        result.sent += updated
        if updated < len(events):
            # Which rows lost their claim is one more query; only then is it worth asking.
            kept = set(NotificationEvent.objects.filter(pk__in=ids, sent_at=now).values_list("pk", flat=True))
            result.lost_claims += len(events) - updated
            logger.warning("notification claims lost before the outcome was written", extra={"rows": ids})
            events = [event for event in events if event.pk in kept]
        for event in events:
            label = result._targets.label(event)
            result._outcomes[(event.channel, label, success.result)] += 1
            result._targets.note(event, success.status, None, now)
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "notification delivered",
                    extra={
                        "event_id": event.id,
                        "channel": event.channel,
                        "destination": label,
                        "attempt": event.retry_count + 1,
                    },
                )
    result._delivered.clear()


def _record_metrics(result: SweepResult) -> None:
    """Flush a batch's counters and latency observations (a few statements per batch, not per row)."""
    counters.increment_many(
        DELIVERIES_TOTAL,
        [({"channel": c, "destination": d, "result": r}, n) for (c, d, r), n in result._outcomes.items()],
    )
    observe_many(DELIVERY_SECONDS, result._observations)
    result._outcomes.clear()
    result._observations.clear()


def claim_listed(event_ids: list[str], now: datetime) -> list[NotificationEvent]:
    """Claim the listed pending rows no other worker holds (the batched on-commit fast path)."""
    queryset = NotificationEvent.objects.filter(
        _unclaimed(now), pk__in=event_ids, status=NotificationStatus.PENDING
    )
    return _claim(queryset, "created_at", now, len(event_ids))


def _run_batch(rows: list[NotificationEvent], clock: Clock) -> SweepResult:
    result = SweepResult(claimed=len(rows))
    result._targets.prefetch(rows)
    for event in rows:
        attempt(event, clock, result)
    flush_delivered(result, clock)
    result._targets.write_outcomes()
    _record_metrics(result)
    return result


def _sweep(claimer, now: datetime | None, batch_size: int | None, max_batches: int | None) -> SweepResult:
    clock = _clock(now)
    size = batch_size or settings.NOTIFICATION_BATCH_SIZE
    total = SweepResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        rows = claimer(clock(), size)
        if not rows:
            break
        batch = _run_batch(rows, clock)
        total.add(batch)
        batches += 1
        if batch.released == len(rows):
            # Nothing could start: the lease is shorter than a delivery deadline. Stop instead of spinning.
            logger.error(
                "notification lease too short for the delivery deadline; raise CERTCTL_NOTIFICATION_LEASE_SECONDS",
                extra={
                    "lease_seconds": settings.NOTIFICATION_LEASE_SECONDS,
                    "deadline_seconds": settings.NOTIFICATION_DEADLINE_SECONDS,
                },
            )
            break
    return total


def process_pending(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    min_age_seconds: float = PENDING_MIN_AGE_SECONDS,
    max_batches: int | None = None,
) -> SweepResult:
    """Deliver pending rows older than a minute (a lost broker message) and rows whose worker died."""
    return _sweep(lambda at, size: claim_pending(at, size, min_age_seconds), now, batch_size, max_batches)


def retry_due(
    *, now: datetime | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> SweepResult:
    """The retry sweep: attempt every failed row whose next_retry_at has come, oldest first, in batches."""
    return _sweep(claim_due_retries, now, batch_size, max_batches)


def deliver_one(event_id: str, *, now: datetime | None = None) -> str | None:
    """The on-commit fast path for one new or requeued row; does nothing if another worker holds it."""
    clock = _clock(now)
    event = claim_one(event_id, clock())
    if event is None:
        return None
    result = _run_batch([event], clock)
    return next((name for name in ("sent", "failed", "dead") if getattr(result, name)), None)


def deliver_many(event_ids: list[str], *, now: datetime | None = None) -> SweepResult:
    """The on-commit fast path for rows committed together or within milliseconds; skips rows others hold."""
    clock = _clock(now)
    rows = claim_listed(event_ids, clock())
    return _run_batch(rows, clock) if rows else SweepResult()
