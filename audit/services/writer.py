"""Buffered writes of API-call audit rows: a bounded in-process queue flushed in batches by one thread.

A request only appends to a deque (microseconds). A daemon thread inserts the buffered rows every
`AUDIT_FLUSH_INTERVAL` or as soon as `AUDIT_BATCH_SIZE` rows wait, one statement per batch, then seals the chain.
Nothing is dropped:
- when the queue is full the request writes its own row synchronously (back-pressure, bounded memory);
- a failed batch goes back to the front of the queue and is retried;
- a row the database refuses whatever the retry (a value it cannot store) is found by writing the batch row by
  row, so it cannot hold up the rows queued with it; only that row is dropped, logged at ERROR with its ids;
- at interpreter exit (graceful shutdown of gunicorn, runserver, a management command) the queue is flushed,
  retrying for up to `AUDIT_FLUSH_TIMEOUT`.
What a buffer cannot survive is a hard kill (SIGKILL, OOM, power loss): at most one flush interval of rows.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from audit.services import chain

logger = logging.getLogger(__name__)


class BatchWriter:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._flush_lock = threading.Lock()
        self._pending: deque[dict[str, Any]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, row: dict[str, Any]) -> None:
        """Queue one row; when the queue is full, write it now in the caller's thread."""
        if self._pid != os.getpid():
            self._reset()  # forked worker: the parent's queue and thread are not ours
        if self._thread is None:
            self._start()
        with self._cond:
            if len(self._pending) < settings.AUDIT_QUEUE_MAX:
                self._pending.append(row)
                if len(self._pending) >= settings.AUDIT_BATCH_SIZE:
                    self._cond.notify()
                return
        chain.insert_rows([row])

    def flush(self) -> int:
        """Write everything queued now; returns the number of rows written. Raises on a database error."""
        written = 0
        with self._flush_lock:
            while True:
                with self._cond:
                    batch = [
                        self._pending.popleft()
                        for _ in range(min(settings.AUDIT_BATCH_SIZE, len(self._pending)))
                    ]
                if not batch:
                    break
                try:
                    written += _insert(batch)
                except BaseException:
                    with self._cond:
                        self._pending.extendleft(reversed(batch))
                    raise
        if written:
            chain.seal()  # a failure here loses nothing: the rows are in, the periodic seal chains them
        return written

    def discard(self) -> int:
        """Drop what is queued, without writing it (test isolation); returns how many rows were dropped."""
        with self._cond:
            dropped = len(self._pending)
            self._pending.clear()
        return dropped

    def flush_at_exit(self) -> None:
        if self._pid != os.getpid() or not self._pending:
            return
        deadline = time.monotonic() + settings.AUDIT_FLUSH_TIMEOUT
        while True:
            try:
                self.flush()
                return
            except Exception:
                connection.close()
                if time.monotonic() >= deadline:
                    logger.exception("audit rows lost at exit", extra={"audit_rows": len(self._pending)})
                    return
                time.sleep(0.5)

    def stop(self, timeout: float = 10) -> None:
        """Flush, stop the thread and close its database connection (tests, and embedding code)."""
        with self._cond:
            thread, self._stopping = self._thread, True
            self._cond.notify()
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._thread, self._stopping = None, False
        self.flush()

    def _start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def _batch_ready(self) -> bool:
        return self._stopping or len(self._pending) >= settings.AUDIT_BATCH_SIZE

    def _run(self) -> None:
        try:
            while not self._stopping:
                with self._cond:
                    self._cond.wait_for(self._batch_ready, timeout=settings.AUDIT_FLUSH_INTERVAL)
                if not self._pending:
                    continue
                try:
                    self.flush()
                    connection.close_if_unusable_or_obsolete()
                except Exception:
                    logger.exception("audit batch write failed; retrying", extra={"audit_rows": self.pending})
                    connection.close()
                    with self._cond:
                        self._cond.wait_for(lambda: self._stopping, timeout=settings.AUDIT_FLUSH_INTERVAL)
        finally:
            connection.close()


# What retrying never fixes: a value the database cannot store, or a row already written before a reconnect.
REFUSED = (DataError, IntegrityError)


def _insert(batch: list[dict[str, Any]]) -> int:
    """Insert a batch; when the database refuses a value in it, insert the rows one by one and drop the refused."""
    try:
        with transaction.atomic():
            return chain.insert_rows(batch)
    except REFUSED:
        pass  # some row in it can never be stored: find it below rather than retry the batch forever
    written = 0
    for row in batch:
        try:
            with transaction.atomic():
                written += chain.insert_rows([row])
        except REFUSED:
            details = row.get("details") or {}
            logger.exception(
                "audit row refused by the database, dropped",
                extra={"audit_id": row["id"], "request_id": details.get("request_id", "")},
            )
    return written


writer = BatchWriter()
atexit.register(writer.flush_at_exit)
