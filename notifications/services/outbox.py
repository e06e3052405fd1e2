"""Writing notifications: a `pending` row in the caller's transaction, delivery scheduled after commit
(handed to notifications.services.publisher, which publishes the Celery delivery tasks)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from certctl.kernel.bulk_insert import insert_unnest
from certctl.kernel.ids import new_id
from certctl.kernel.rows import insert as insert_row
from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent
from notifications.services import publisher


def schedule_delivery(event_ids: Sequence[str]) -> None:
    """Deliver these pending rows once the surrounding transaction commits.

    One hand-over per transaction; the publisher batches rows of many commits into one broker message. Robust:
    the rows are committed, so a broker problem must not fail the caller; the pending sweep delivers them.
    """
    ids = list(event_ids)
    if ids:
        transaction.on_commit(lambda: publisher.publish(ids), robust=True)


def new_event(*, recipient: str = "", subject: str = "", **fields) -> NotificationEvent:
    """An unsaved pending notification (recipient and subject trimmed to their columns).

    For callers that write it together with other rows (`certctl.kernel.rows.write`); they call `schedule_delivery`
    once it is written.
    """
    return NotificationEvent(recipient=recipient[:255], subject=subject[:255], **fields)


def insert_once(event: NotificationEvent) -> bool:
    """Insert a row that has a `dedup_key`; False when a row with that key exists already (the unique key
    decides, so two concurrent producers cannot both write it). Call it inside the caller's transaction."""
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        if not NotificationEvent.objects.filter(dedup_key=event.dedup_key).exists():
            raise
        return False
    return True


def enqueue(
    *,
    type: str,
    channel: str,
    message: str,
    recipient: str = "",
    subject: str = "",
    certificate_id: str | None = None,
    severity_tier: str = "",
    threshold_days: int | None = None,
    dedup_key: str | None = None,
    destination_id: str | None = None,
    destination_name: str = "",
    incident_key: str = "",
    status: str = NotificationStatus.PENDING,
    deferred_until: datetime | None = None,
    escalation_due_at: datetime | None = None,
    escalation_step: int = 0,
    escalated_from_id: str | None = None,
) -> NotificationEvent | None:
    """Create a pending notification and deliver it after the surrounding transaction commits.

    With a `dedup_key`, a second call for the same key creates nothing and returns None (the database decides,
    so two concurrent producers cannot both create it). A `deferred` row (quiet hours) is only written: the
    release sweep makes it pending at `deferred_until`.
    """
    event = new_event(
        type=type,
        channel=channel,
        message=message,
        recipient=recipient,
        subject=subject,
        certificate_id=certificate_id,
        severity_tier=severity_tier,
        threshold_days=threshold_days,
        dedup_key=dedup_key,
        destination_id=destination_id,
        destination_name=destination_name[:255],
        incident_key=incident_key,
        status=status,
        deferred_until=deferred_until,
        escalation_due_at=escalation_due_at,
        escalation_step=escalation_step,
        escalated_from_id=escalated_from_id,
    )
    if dedup_key is None:
        insert_row(event)  # save() without the query machinery: producers such as issuance are hot paths
    elif not insert_once(event):
        return None
    if event.status == NotificationStatus.PENDING:
        schedule_delivery([event.id])
    return event


@dataclass
class PendingEvent:
    """One notification for `enqueue_many`; with a `dedup_key`, created only if no row has that key yet."""

    type: str
    channel: str
    message: str
    recipient: str = ""
    subject: str = ""
    certificate_id: str | None = None
    severity_tier: str = ""
    threshold_days: int | None = None
    dedup_key: str | None = None
    destination_id: str | None = None
    destination_name: str = ""
    incident_key: str = ""
    status: str = NotificationStatus.PENDING
    deferred_until: datetime | None = None
    escalation_due_at: datetime | None = None
    escalation_step: int = 0
    escalated_from_id: str | None = None
    discovered_certificate_id: str | None = None  # an alert about a discovered (not managed) certificate
    id: str = field(default_factory=lambda: new_id("notif"))


# Past this many events per commit the fast path is not worth its broker traffic: the pending sweep picks the
# rest up within its interval.
IMMEDIATE_DELIVERY_LIMIT = 500


def enqueue_many(
    events: Iterable[PendingEvent], *, deliver_first: int = IMMEDIATE_DELIVERY_LIMIT
) -> list[PendingEvent]:
    """Create many pending notifications in one statement; the bulk twin of `enqueue`. Returns those created,
    in input order.

    Events with a `dedup_key` are created only when the key is new, within the batch and against the table (the
    unique key decides, so a concurrent producer that won a key keeps it and its row is not counted twice);
    events without one are always created. Runs in the caller's transaction (a savepoint, or its own when there
    is none). Delivery of the first `deliver_first` created pending events is scheduled after commit (put the most
    urgent first; `deferred` ones wait for the release sweep); the rest, or all with `deliver_first=0` (bulk producers: a 20,000-row burst must not cost 20,000 broker
    messages), are delivered by the pending sweep.
    """
    if isinstance(deliver_first, bool):  # a count, not a switch: True would deliver one event
        raise TypeError("deliver_first is how many created events to deliver at once, not a bool")
    seen: set[str] = set()
    batch = []
    for event in events:
        if event.dedup_key is not None:
            if event.dedup_key in seen:
                continue
            seen.add(event.dedup_key)
        batch.append(event)
    if not batch:
        return []
    with transaction.atomic():
        insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_portable
        created_ids = insert(batch)
        created = [event for event in batch if event.id in created_ids]
        pending = [event.id for event in created if event.status == NotificationStatus.PENDING]
        schedule_delivery(pending[:deliver_first])
    return created


_COLUMNS = (
    "id",
    "type",
    "channel",
    "message",
    "certificate_id",
    "severity_tier",
    "threshold_days",
    "dedup_key",
    "destination_id",
    "incident_key",
    "status",
    "deferred_until",
    "escalation_due_at",
    "escalation_step",
    "escalated_from_id",
    "discovered_certificate_id",
)


_OFTEN_CONSTANT = frozenset(
    {
        "discovered_certificate_id",
        "type",
        "channel",
        "severity_tier",
        "threshold_days",
        "status",
        "deferred_until",
        "escalation_due_at",
        "escalation_step",
        "escalated_from_id",
        "destination_id",
        "destination_name",
        "incident_key",
    }
)


def _insert_postgresql(batch: list[PendingEvent]) -> set[str]:
    """One `INSERT … SELECT FROM unnest(…) ON CONFLICT (dedup_key) DO NOTHING RETURNING id` (NULL keys never
    conflict)."""
    columns: dict[str, list] = {name: [getattr(e, name) for e in batch] for name in _COLUMNS}
    columns["recipient"] = [e.recipient[:255] for e in batch]
    columns["subject"] = [e.subject[:255] for e in batch]
    columns["destination_name"] = [e.destination_name[:255] for e in batch]
    # A column with one value for the whole batch (usually most of the routing ones) is one scalar parameter.
    constants = {
        name: values[0]
        for name, values in columns.items()
        if name in _OFTEN_CONSTANT and all(value == values[0] for value in values)
    }
    for name in constants:
        del columns[name]
    return set(
        insert_unnest(
            NotificationEvent, columns, constants=constants, ignore_conflicts_on="dedup_key", returning="id"
        )
    )


def _insert_portable(batch: list[PendingEvent]) -> set[str]:
    """Other databases (SQLite in development): bulk_create, then read back which of our ids exist."""
    NotificationEvent.objects.bulk_create(
        [
            new_event(
                recipient=e.recipient,
                subject=e.subject,
                destination_name=e.destination_name[:255],
                **{name: getattr(e, name) for name in _COLUMNS},
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
