"""Writing notifications: a `pending` row in the caller's transaction, delivery scheduled after commit
(handed to notifications.services.publisher, which publishes the Celery delivery tasks)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from certctl.rows import insert as insert_row
from certctl.rows import write as write_rows
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

    For callers that write it together with other rows (`certctl.rows.write`); they call `schedule_delivery`
    once it is written.
    """
    return NotificationEvent(recipient=recipient[:255], subject=subject[:255], **fields)


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
) -> NotificationEvent | None:
    """Create a pending notification and deliver it after the surrounding transaction commits.

    With a `dedup_key`, a second call for the same key creates nothing and returns None (the database decides,
    so two concurrent producers cannot both create it).
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
    )
    if dedup_key is None:
        insert_row(event)  # save() without the query machinery: producers such as issuance are hot paths
    else:
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            if not NotificationEvent.objects.filter(dedup_key=dedup_key).exists():
                raise
            return None
    schedule_delivery([event.id])
    return event


def enqueue_many(events: list[dict], *, deliver_now: bool = True) -> list[NotificationEvent]:
    """Several pending notifications (keyword dicts as for `enqueue`, without dedup_key) in one INSERT.

    For bulk producers (bulk revocation); `notifications.services.bulk_outbox` is the deduplicating twin. With
    `deliver_now=False` no task is published per row: the pending sweep delivers them, which keeps a
    20,000-row burst from costing 20,000 broker round trips.
    """
    created = [new_event(**fields) for fields in events]
    if created:
        write_rows(created)
    if deliver_now:
        schedule_delivery([event.id for event in created])
    return created
