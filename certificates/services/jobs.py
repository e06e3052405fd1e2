"""The job state machine (spec §8.1): the one place where a job changes status.

Every change is a conditional UPDATE on the status the caller saw, so two workers (or an agent and the reaper)
racing on one job cannot both move it: the loser gets InvalidTransition.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services.record import new_event as new_audit_event
from audit.services.record import record
from certificates.enums import JobStatus, JobType
from certificates.models import Job

S = JobStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RUNNING, S.AWAITING_CSR, S.CANCELLED}),
    S.AWAITING_CSR: frozenset({S.RUNNING, S.FAILED, S.CANCELLED}),
    S.AWAITING_APPROVAL: frozenset({S.PENDING, S.CANCELLED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.AWAITING_CSR, S.CANCELLED}),
    S.FAILED: frozenset({S.PENDING, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# What an operator may cancel through the API; approval waits are decided on the approval request instead.
CANCELLABLE = frozenset({S.PENDING, S.AWAITING_CSR, S.RUNNING})
TERMINAL = frozenset({S.COMPLETED, S.CANCELLED})
ISSUING_TYPES = (JobType.ISSUANCE, JobType.RENEWAL)

_ACTIONS = {
    S.RUNNING: "job_started",
    S.COMPLETED: "job_completed",
    S.FAILED: "job_failed",
    S.CANCELLED: "job_cancelled",
    S.AWAITING_CSR: "renewal_awaiting_csr",
    S.PENDING: "job_retry",
}


class InvalidTransition(Exception):
    """The job cannot move to that status from where it is (the API answers 409)."""

    def __init__(self, job: Job, from_status: str, to_status: str, reason: str = "") -> None:
        self.job = job
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(reason or f"job {job.pk} cannot move from {from_status} to {to_status}")


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def transition(
    job: Job,
    to_status: str,
    *,
    actor: str,
    actor_type: str,
    error: str = "",
    now: datetime | None = None,
    audit_action: str | None = None,
    details: dict | None = None,
) -> Job:
    """Move `job` to `to_status`, stamp times, count attempts and audit; raise InvalidTransition otherwise.

    Entering Running counts one attempt and stamps `started_at` (Failed straight from a wait counts one
    too); Completed/Failed/Cancelled stamp
    `completed_at`; a retry (Failed -> Pending) clears it. `error` becomes `last_error` (kept on retries).
    The caller's object is updated in place and returned.
    """
    now = now or timezone.now()
    from_status = job.status
    if not can_transition(from_status, to_status):
        raise InvalidTransition(job, from_status, to_status)
    changes: dict = {"status": to_status, "updated_at": now}
    if to_status == S.RUNNING:
        changes["attempts"] = job.attempts + 1
        changes["started_at"] = now
    elif to_status == S.FAILED and from_status != S.RUNNING:
        # A failure that never reached Running (e.g. no CSR before the timeout) still uses up an attempt,
        # otherwise the retry sweep would re-arm it forever.
        changes["attempts"] = job.attempts + 1
    if to_status in (S.COMPLETED, S.FAILED, S.CANCELLED):
        changes["completed_at"] = now
    if to_status == S.PENDING:
        changes["completed_at"] = None
        changes["scheduled_at"] = now
    if to_status == S.COMPLETED:
        changes["last_error"] = ""
    elif error:
        changes["last_error"] = error[:4000]
    with transaction.atomic():
        # Status and attempts as the caller saw them: a stale copy cannot move the job or miscount attempts.
        updated = Job.objects.filter(pk=job.pk, status=from_status, attempts=job.attempts).update(**changes)
        if not updated:
            current = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            raise InvalidTransition(
                job,
                current or from_status,
                to_status,
                f"job {job.pk} changed concurrently (now {current or 'deleted'}); cannot move it to {to_status}",
            )
        for field, value in changes.items():
            setattr(job, field, value)
        action = audit_action or (
            "job_approved"
            if (from_status, to_status) == (S.AWAITING_APPROVAL, S.PENDING)
            else _ACTIONS[to_status]
        )
        record(
            action,
            resource_type="job",
            resource_id=job.pk,
            actor=actor,
            actor_type=actor_type,
            details={
                "from_status": from_status,
                "to_status": to_status,
                "job_type": job.type,
                "certificate_id": job.certificate_id,
                "attempts": job.attempts,
                **({"error": error} if error else {}),
                **(details or {}),
            },
            now=now,
        )
    return job


def complete_running(
    running: list[Job], *, actor: str, actor_type: str, now: datetime, strict: bool = True
) -> tuple[list[Job], list[AuditEvent]]:
    """Running -> Completed for many jobs in one conditional UPDATE, inside the caller's transaction.

    Returns the jobs that moved (updated in place) and their unsaved audit events, for the caller to write with
    its own rows. A job that is no longer Running with the attempts the caller saw (cancelled or reaped
    meanwhile) does not move: with `strict` that raises InvalidTransition, otherwise it is left out.
    """
    if not running:
        return [], []
    if not connection.in_atomic_block:  # a strict refusal must be able to undo the jobs that did move
        raise RuntimeError("complete_running must run inside the caller's transaction")
    for job in running:
        if job.status != S.RUNNING:
            raise InvalidTransition(job, job.status, S.COMPLETED)
    moved_ids = _complete_where_running(running, now)
    moved = [job for job in running if job.pk in moved_ids]
    if strict and len(moved) != len(running):
        stale = next(job for job in running if job.pk not in moved_ids)
        raise InvalidTransition(
            stale, S.RUNNING, S.COMPLETED, f"job {stale.pk} changed concurrently; cannot move it to Completed"
        )
    events = []
    for job in moved:
        job.status, job.updated_at, job.completed_at, job.last_error = S.COMPLETED, now, now, ""
        events.append(
            new_audit_event(
                "renewal_job_completed" if job.type == JobType.RENEWAL else "job_completed",
                resource_type="job",
                resource_id=job.pk,
                actor=actor,
                actor_type=actor_type,
                details={
                    "from_status": S.RUNNING,
                    "to_status": S.COMPLETED,
                    "job_type": job.type,
                    "certificate_id": job.certificate_id,
                    "attempts": job.attempts,
                },
                now=now,
            )
        )
    return moved, events


def start_waiting(
    waiting: list[Job], *, actor: str, actor_type: str, now: datetime
) -> tuple[list[Job], list[AuditEvent]]:
    """Pending/AwaitingCSR -> Running for many jobs in one conditional UPDATE, inside the caller's transaction:
    the bulk twin of `transition(job, RUNNING)` (one attempt counted, `started_at` stamped).

    Returns the jobs that moved (updated in place) and their unsaved audit events, for the caller to write with
    its own rows; a job someone else moved meanwhile is left out (the caller decides what that means).
    """
    if not waiting:
        return [], []
    if not connection.in_atomic_block:
        raise RuntimeError("start_waiting must run inside the caller's transaction")
    for job in waiting:
        if not can_transition(job.status, S.RUNNING):
            raise InvalidTransition(job, job.status, S.RUNNING)
    moved_ids = _start_where_waiting(waiting, now)
    moved = [job for job in waiting if job.pk in moved_ids]
    events = []
    for job in moved:
        from_status = job.status
        job.status, job.attempts, job.started_at, job.updated_at = S.RUNNING, job.attempts + 1, now, now
        events.append(
            new_audit_event(
                _ACTIONS[S.RUNNING],
                resource_type="job",
                resource_id=job.pk,
                actor=actor,
                actor_type=actor_type,
                details={
                    "from_status": from_status,
                    "to_status": S.RUNNING,
                    "job_type": job.type,
                    "certificate_id": job.certificate_id,
                    "attempts": job.attempts,
                },
                now=now,
            )
        )
    return moved, events


def _start_where_waiting(waiting: list[Job], now: datetime) -> set[str]:
    if connection.vendor != "postgresql":
        moved = set()
        for job in waiting:
            if Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts).update(
                status=S.RUNNING, attempts=job.attempts + 1, started_at=now, updated_at=now
            ):
                moved.add(job.pk)
        return moved
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} AS j SET status = %s, attempts = j.attempts + 1, started_at = %s, "  # noqa: S608
            "updated_at = %s "
            "FROM unnest(%s::varchar[], %s::varchar[], %s::integer[]) AS seen(id, status, attempts) "
            "WHERE j.id = seen.id AND j.status = seen.status AND j.attempts = seen.attempts RETURNING j.id",
            [
                S.RUNNING,
                now,
                now,
                [j.pk for j in waiting],
                [j.status for j in waiting],
                [j.attempts for j in waiting],
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def _complete_where_running(running: list[Job], now: datetime) -> set[str]:
    if connection.vendor != "postgresql":
        moved = set()
        for job in running:
            if Job.objects.filter(pk=job.pk, status=S.RUNNING, attempts=job.attempts).update(
                status=S.COMPLETED, updated_at=now, completed_at=now, last_error=""
            ):
                moved.add(job.pk)
        return moved
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} AS j SET status = %s, updated_at = %s, completed_at = %s, "  # noqa: S608
            "last_error = '' "
            "FROM unnest(%s::varchar[], %s::integer[]) AS seen(id, attempts) "
            "WHERE j.id = seen.id AND j.status = %s AND j.attempts = seen.attempts RETURNING j.id",
            [S.COMPLETED, now, now, [j.pk for j in running], [j.attempts for j in running], S.RUNNING],
        )
        return {row[0] for row in cursor.fetchall()}


def cancel(job: Job, *, actor: str, actor_type: str = "User", now: datetime | None = None) -> Job:
    """Operator cancel: only Pending, AwaitingCSR and Running jobs (the API answers 409 for the others)."""
    if job.status not in CANCELLABLE:
        hint = (
            " (approve or reject its approval request instead)" if job.status == S.AWAITING_APPROVAL else ""
        )
        raise InvalidTransition(job, job.status, S.CANCELLED, f"a {job.status} job cannot be cancelled{hint}")
    with transaction.atomic():
        transition(job, S.CANCELLED, actor=actor, actor_type=actor_type, error="cancelled by user", now=now)
        if job.type in ISSUING_TYPES:
            from certificates.services.renewal import settle_certificate_status

            settle_certificate_status(job.certificate, now=now)
    return job
