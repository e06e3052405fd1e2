"""Publishing after-commit tasks from a background thread, many ids per broker message.

Building and sending one Celery message costs more CPU than the work it announces (~0.5 ms), so committed ids
are handed to a per-process thread that gathers what arrives within `GATHER_SECONDS` and publishes one task per
`max_ids` ids. The rows are the guarantee, the task only the fast path: ids still queued when a process dies are
picked up by their owner's periodic sweep. The notifications outbox and compliance evaluation both use it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time

from certctl.kernel import dispatch

logger = logging.getLogger(__name__)

GATHER_SECONDS = 0.05


class BatchPublisher:
    """One per task name and process; `submit` after commit, `flush` at process or worker-child exit."""

    def __init__(self, task: str, max_ids: int, thread_name: str, *, distinct: bool = False) -> None:
        self.task, self.max_ids, self.thread_name, self.distinct = task, max_ids, thread_name, distinct
        self._reset()
        atexit.register(self._flush_quietly)
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, ids: list[str]) -> None:
        with self._lock:
            first = not self._pending  # later ids join the gathering already under way: no wake-up each
            self._pending.extend(ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
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
        """Publish what is queued now, in the calling thread."""
        with self._lock:
            batch, self._pending = self._pending, []
        if self.distinct:
            batch = list(dict.fromkeys(batch))
        for start in range(0, len(batch), self.max_ids):
            chunk = batch[start : start + self.max_ids]
            try:
                dispatch.enqueue(self.task, chunk)
            except Exception:  # the ids' rows stay as they are: the owner's sweep picks them up
                logger.warning(
                    "could not publish a task", extra={"task": self.task, "count": len(chunk)}, exc_info=True
                )

    def _flush_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.flush()
