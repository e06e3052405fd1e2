"""Publishing the after-issuance evaluations: from a background thread, many certificates per broker message.

Sending one Celery message costs more CPU than the rest of an issuance's compliance work, so committed certificate
ids are handed to a per-process thread that gathers what arrives within `GATHER_SECONDS` and publishes one
`certificates.evaluate_compliance` task per `MAX_IDS_PER_TASK` ids (the notifications publisher's pattern). Ids
still queued when a process dies are judged by the periodic sweep. In eager mode (tests, `CERTCTL_CELERY_EAGER`)
the evaluation runs at once, in the committing thread.
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

EVALUATE_TASK = "certificates.evaluate_compliance"
GATHER_SECONDS = 0.05
MAX_IDS_PER_TASK = 200


class _Publisher:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, certificate_ids: list[str]) -> None:
        with self._lock:
            first = not self._pending
            self._pending.extend(certificate_ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="certctl-compliance-publisher", daemon=True
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
            batch, self._pending = list(dict.fromkeys(self._pending)), []
        for start in range(0, len(batch), MAX_IDS_PER_TASK):
            try:
                dispatch.enqueue(EVALUATE_TASK, batch[start : start + MAX_IDS_PER_TASK])
            except Exception:  # the periodic sweep judges them
                logger.warning("could not publish a compliance evaluation", exc_info=True)


_publisher = _Publisher()


def publish(certificate_ids: list[str]) -> None:
    """Have these managed certificates evaluated soon (call it after commit)."""
    if not certificate_ids:
        return
    if dispatch.is_eager():
        dispatch.enqueue(EVALUATE_TASK, list(certificate_ids))
        return
    _publisher.submit(list(certificate_ids))


def flush() -> None:
    """Publish what is queued now, in the calling thread (process exit)."""
    _publisher.flush()


@atexit.register
def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):
        flush()


os.register_at_fork(after_in_child=_publisher._reset)
