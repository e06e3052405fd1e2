"""Telling a remote CA (ACME) that a certificate certctl revoked is revoked, after the revocation committed.

The task `certificates.revoke_at_issuer(issuer_id, serial)` calls `revoke_at_issuer`; a transient failure (CA
unreachable, rate limited) is retried by the task after `retry_in` seconds, up to MAX_ATTEMPTS attempts. Every
attempt is recorded on the revocation row (`issuer_attempts`, `issuer_error`); success sets `issuer_notified`
and `issuer_notified_at`. The final outcome is audited: `certificate_revoked_at_issuer` or
`issuer_revocation_failed`. Repeating a revocation the CA already has is a success (ACME `alreadyRevoked`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services.record import record
from certctl.kernel import dispatch
from certificates.issuance.issuers.base import IssuerError
from certificates.issuance.issuers.registry import backend_for, types_revoking_at_ca
from certificates.revocation.models import CertificateRevocation

logger = logging.getLogger(__name__)

REVOKE_AT_ISSUER_TASK = "certificates.revoke_at_issuer"
# Seconds before each retry: about a day of attempts in all, for a CA that is down or rate limits us.
RETRY_LADDER = (60, 300, 1800, 7200, 21600, 43200)
MAX_ATTEMPTS = len(RETRY_LADDER) + 1
MAX_RETRY_AFTER = 86400
# A revocation whose CA call was never attempted this long after it committed lost its task (broker down at
# commit, a worker that died before starting it): the sweep queues it again.
LOST_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class IssuerRevocationOutcome:
    status: str  # notified, failed, retrying, nothing_to_do
    retry_in: int | None = None  # seconds; set only when status is retrying


def revoke_at_issuer(
    issuer_id: str, serial: str, *, attempt: int = 0, now: datetime | None = None
) -> IssuerRevocationOutcome:
    """Revoke (issuer, serial) at its CA and record the outcome on the revocation row.

    `attempt` counts earlier tries of this task (0 the first time); the last one records a transient failure
    as final. A row that is missing or already notified needs nothing.
    """
    now = now or timezone.now()
    row = (
        CertificateRevocation.objects.select_related("issuer")
        .filter(issuer_id=issuer_id, serial_number=serial)
        .first()
    )
    if row is None or row.issuer_notified:
        return IssuerRevocationOutcome("nothing_to_do")
    mine = CertificateRevocation.objects.filter(pk=row.pk, issuer_notified=False)
    try:
        backend_for(row.issuer).revoke(row.serial_number, row.reason)
    except IssuerError as exc:
        final = exc.permanent or attempt + 1 >= MAX_ATTEMPTS
        with transaction.atomic():
            mine.update(issuer_attempts=F("issuer_attempts") + 1, issuer_error=str(exc)[:2000])
            if final:
                _audit(row, "issuer_revocation_failed", now, attempts=attempt + 1, error=str(exc))
        logger.warning(
            "revocation at the CA failed",
            extra={"revocation_id": row.pk, "issuer_id": issuer_id, "attempt": attempt + 1, "final": final},
        )
        if final:
            return IssuerRevocationOutcome("failed")
        wait = RETRY_LADDER[min(attempt, len(RETRY_LADDER) - 1)]
        if exc.retry_after:
            wait = min(max(wait, exc.retry_after), MAX_RETRY_AFTER)
        return IssuerRevocationOutcome("retrying", retry_in=wait)
    with transaction.atomic():
        written = mine.update(
            issuer_notified=True,
            issuer_notified_at=now,
            issuer_attempts=F("issuer_attempts") + 1,
            issuer_error="",
        )
        if written:
            _audit(row, "certificate_revoked_at_issuer", now, attempts=attempt + 1)
    return IssuerRevocationOutcome("notified")


def requeue_at_issuer(revocation_ids: list[str]) -> int:
    """Queue the CA revocation again for those of the rows its CA has not confirmed; returns how many."""
    pending = CertificateRevocation.objects.filter(
        pk__in=revocation_ids, issuer_notified=False, issuer__type__in=types_revoking_at_ca()
    ).values_list("issuer_id", "serial_number")
    queued = 0
    for issuer_id, serial in pending:
        dispatch.enqueue(REVOKE_AT_ISSUER_TASK, issuer_id, serial)
        queued += 1
    return queued


def requeue_lost(now: datetime | None = None, limit: int = 500) -> int:
    """Queue the CA revocation of rows never attempted within LOST_AFTER of their revocation; returns how many.

    Run by beat (`certificates.requeue_lost_issuer_revocations`). A row whose attempts ran out or failed for good
    is not touched: it is audited as `issuer_revocation_failed` and an operator retries it from the admin. A row
    queued twice is harmless: the first call notifies, the second finds nothing to do (or `alreadyRevoked`).
    """
    cutoff = (now or timezone.now()) - LOST_AFTER
    lost = list(
        CertificateRevocation.objects.filter(
            issuer_notified=False,
            issuer_attempts=0,
            revoked_at__lte=cutoff,
            issuer__type__in=types_revoking_at_ca(),
        )
        .order_by("revoked_at")
        .values_list("pk", flat=True)[:limit]
    )
    return requeue_at_issuer(lost) if lost else 0


def _audit(row: CertificateRevocation, action: str, now: datetime, **details) -> None:
    record(
        action,
        resource_type="certificate",
        resource_id=row.certificate_id,
        actor="system",
        actor_type="System",
        details={
            "issuer_id": row.issuer_id,
            "issuer": row.issuer.name,
            "serial": row.serial_number,
            "reason": row.reason,
            **details,
        },
        now=now,
    )
