"""Publishing the after-commit delivery tasks: from a background thread, many rows per broker message.

The outbox row is the guarantee; the task is only the fast path. Building and sending one Celery message cost
~0.5 ms of CPU per notification, more than writing the row, so committed event ids are handed to a per-process
thread that gathers what arrives within `GATHER_SECONDS` and publishes one `deliver_notifications` task per
`MAX_IDS_PER_TASK` ids. Ids still queued when a process dies are delivered by the pending sweep (after a minute).
In eager mode (tests, `CERTCTL_CELERY_EAGER`) each row is delivered at once, in the committing thread.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable

from certctl.kernel import dispatch

logger = logging.getLogger(__name__)

DELIVER_ONE_TASK = "notifications.deliver_notification"
DELIVER_MANY_TASK = "notifications.deliver_notifications"
GATHER_SECONDS = 0.05
MAX_IDS_PER_TASK = 50


class _Publisher:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, event_ids: list[str]) -> None:
        with self._lock:
            first = not self._pending  # later ids join the gathering already under way: no wake-up each
            self._pending.extend(event_ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="certctl-notification-publisher", daemon=True
                )
                self._thread.start()
        if first:
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(GATHER_SECONDS)  # let the commits of the next few milliseconds share the message
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        for start in range(0, len(batch), MAX_IDS_PER_TASK):
            chunk = batch[start : start + MAX_IDS_PER_TASK]
            try:
                dispatch.enqueue(DELIVER_MANY_TASK, chunk)
            except Exception:
                # The rows stay pending: the pending sweep delivers them.
                logger.warning(
                    "could not publish a delivery task", extra={"event_count": len(chunk)}, exc_info=True
                )


_publisher = _Publisher()


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


@atexit.register
def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):
        flush()


os.register_at_fork(after_in_child=_publisher._reset)
