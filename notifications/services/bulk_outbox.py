"""Writing many deduplicated notifications at once: the bulk twin of `outbox.enqueue`.

`outbox.enqueue` is one INSERT per event; an expiry check over 100,000 certificates needs one statement for all
of them. Rows get their IDs before the INSERT so that, after `ON CONFLICT DO NOTHING` has let the unique
`dedup_key` decide, one indexed read tells which of *our* IDs exist, i.e. which events this call created. A
concurrent producer that won a key holds a different ID, so its rows are never counted (or delivered) twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from certctl.ids import new_id
from notifications.models import NotificationEvent

# Past this many events per commit, one Celery message each costs more than it saves: the pending sweep
# picks the rest up within its interval.
IMMEDIATE_DELIVERY_LIMIT = 1000


@dataclass
class PendingEvent:
    """One notification to create; `dedup_key` is required here (the bulk path exists to deduplicate)."""

    type: str
    channel: str
    message: str
    dedup_key: str
    recipient: str = ""
    subject: str = ""
    certificate_id: str | None = None
    severity_tier: str = ""
    threshold_days: int | None = None
    id: str = field(default_factory=lambda: new_id("notif"))


def _schedule_delivery(event_ids: Sequence[str]) -> None:
    if not event_ids:
        return

    def deliver() -> None:
        from notifications.tasks import deliver_notification

        for event_id in event_ids[:IMMEDIATE_DELIVERY_LIMIT]:
            deliver_notification.delay(event_id)

    transaction.on_commit(deliver)


def _created_ids(candidate_ids: list[str]) -> set[str]:
    table = NotificationEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter, however many rows (an IN list would hit the 65,535-parameter limit).
            cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s)", [candidate_ids])  # noqa: S608
            return {row[0] for row in cursor.fetchall()}
    found: set[str] = set()
    for start in range(0, len(candidate_ids), 500):
        found.update(
            NotificationEvent.objects.filter(id__in=candidate_ids[start : start + 500]).values_list(
                "id", flat=True
            )
        )
    return found


def enqueue_many(events: Iterable[PendingEvent]) -> list[PendingEvent]:
    """Create every event whose `dedup_key` is new and return those, in input order.

    Runs in the caller's transaction (opening one if there is none); delivery of the created events is scheduled
    after commit, the first `IMMEDIATE_DELIVERY_LIMIT` at once (so put the most urgent first), the rest by the
    pending sweep. Duplicates, within the batch or against existing rows, create nothing.
    """
    seen: set[str] = set()
    batch = []
    for event in events:
        if event.dedup_key not in seen:
            seen.add(event.dedup_key)
            batch.append(event)
    if not batch:
        return []
    with transaction.atomic():
        NotificationEvent.objects.bulk_create(
            [
                NotificationEvent(
                    id=event.id,
                    type=event.type,
                    channel=event.channel,
                    message=event.message,
                    recipient=event.recipient[:255],
                    subject=event.subject[:255],
                    certificate_id=event.certificate_id,
                    severity_tier=event.severity_tier,
                    threshold_days=event.threshold_days,
                    dedup_key=event.dedup_key,
                )
                for event in batch
            ],
            ignore_conflicts=True,
        )
        created_ids = _created_ids([event.id for event in batch])
        created = [event for event in batch if event.id in created_ids]
        _schedule_delivery([event.id for event in created])
    return created
