"""Publishing the after-issuance evaluations: many certificates per `certificates.evaluate_compliance` message,
from a background thread (certctl.kernel.batch_publisher). Ids still queued when a process dies are judged by the
periodic sweep. In eager mode (tests, `CERTCTL_CELERY_EAGER`) the evaluation runs at once, in the committing thread.
"""

from __future__ import annotations

from certctl.kernel import dispatch
from certctl.kernel.batch_publisher import BatchPublisher

EVALUATE_TASK = "certificates.evaluate_compliance"
MAX_IDS_PER_TASK = 200

_publisher = BatchPublisher(EVALUATE_TASK, MAX_IDS_PER_TASK, "certctl-compliance-publisher", distinct=True)


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
