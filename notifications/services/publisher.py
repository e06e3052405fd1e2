"""Publishing the after-commit delivery tasks: from a background thread, many rows per broker message.

The outbox row is the guarantee; the task is only the fast path. Building and sending one Celery message cost
~0.5 ms of CPU per notification, more than writing the row, so committed event ids are handed to a per-process
thread (certctl.kernel.batch_publisher) that gathers what arrives within a few milliseconds and publishes one
`deliver_notifications` task per `MAX_IDS_PER_TASK` ids. Ids still queued when a process dies are delivered by
the pending sweep (after a minute). In eager mode (tests, `CERTCTL_CELERY_EAGER`) each row is delivered at once, in the committing thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from certctl.kernel import dispatch
from certctl.kernel.batch_publisher import BatchPublisher

DELIVER_ONE_TASK = "notifications.deliver_notification"
DELIVER_MANY_TASK = "notifications.deliver_notifications"
MAX_IDS_PER_TASK = 50

_publisher = BatchPublisher(DELIVER_MANY_TASK, MAX_IDS_PER_TASK, "certctl-notification-publisher")


def publish(event_ids: Iterable[str]) -> None:
    """Have these committed pending rows delivered now (call it after commit)."""
    ids = list(event_ids)
    if not ids:
        return
    if dispatch.is_eager():
        for event_id in ids:
            dispatch.enqueue(DELIVER_ONE_TASK, event_id)
        return
    _publisher.submit(ids)


def flush() -> None:
    """Publish what is queued now, in the calling thread (process exit, Celery worker shutdown)."""
    _publisher.flush()
