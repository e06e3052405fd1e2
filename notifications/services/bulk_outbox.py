"""Writing many deduplicated notifications at once: the bulk twin of `outbox.enqueue`.

`outbox.enqueue` is one INSERT per event; an expiry check over 100,000 certificates needs one statement for all
of them. On PostgreSQL that is `INSERT … ON CONFLICT (dedup_key) DO NOTHING RETURNING id`: the unique key decides
and RETURNING says which rows this call created. Elsewhere rows get their IDs before a `bulk_create` and are read
back by ID. Either way a concurrent producer that won a key holds a different ID, so its rows are never counted
(or delivered) twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction

from certctl.bulk_insert import insert_unnest
from certctl.ids import new_id
from notifications.models import NotificationEvent
from notifications.services.outbox import schedule_delivery

# Past this many events per commit the fast path is not worth its broker traffic: the pending sweep picks the
# rest up within its interval.
IMMEDIATE_DELIVERY_LIMIT = 500


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


def _insert_postgresql(batch: list[PendingEvent]) -> set[str]:
    """One `INSERT … SELECT FROM unnest(…) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`."""
    columns = {
        "id": [e.id for e in batch],
        "type": [e.type for e in batch],
        "channel": [e.channel for e in batch],
        "message": [e.message for e in batch],
        "recipient": [e.recipient[:255] for e in batch],
        "subject": [e.subject[:255] for e in batch],
        "certificate_id": [e.certificate_id for e in batch],
        "severity_tier": [e.severity_tier for e in batch],
        "threshold_days": [e.threshold_days for e in batch],
        "dedup_key": [e.dedup_key for e in batch],
    }
    return set(insert_unnest(NotificationEvent, columns, ignore_conflicts_on="dedup_key", returning="id"))


def _insert_portable(batch: list[PendingEvent]) -> set[str]:
    """Other databases (SQLite in development): bulk_create, then read back which of our IDs exist."""
    NotificationEvent.objects.bulk_create(
        [
            NotificationEvent(
                id=e.id,
                type=e.type,
                channel=e.channel,
                message=e.message,
                recipient=e.recipient[:255],
                subject=e.subject[:255],
                certificate_id=e.certificate_id,
                severity_tier=e.severity_tier,
                threshold_days=e.threshold_days,
                dedup_key=e.dedup_key,
            )
            for e in batch
        ],
        batch_size=500,
        ignore_conflicts=True,
    )
    ids = [e.id for e in batch]
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(
            NotificationEvent.objects.filter(id__in=ids[start : start + 500]).values_list("id", flat=True)
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
        insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_portable
        created_ids = insert(batch)
        created = [event for event in batch if event.id in created_ids]
        schedule_delivery([event.id for event in created][:IMMEDIATE_DELIVERY_LIMIT])
    return created
