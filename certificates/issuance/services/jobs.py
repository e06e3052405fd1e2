"""The job state machine (spec §8.1): the one place where a job changes status.

Every change is a conditional UPDATE on the status the caller saw, so two workers (or an agent and the reaper)
racing on one job cannot both move it: the loser gets InvalidTransition.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services.record import new_event as new_audit_event
from certctl.kernel import rows
from certificates.enums import JobStatus, JobType
from certificates.inventory.models import Agent
from certificates.issuance.models import Job
from certificates.issuance.services.certificate_status import settle_certificate_status

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
    agent: Agent | None = None,
) -> Job:
    """Move `job` to `to_status`, stamp times, count attempts and audit; raise InvalidTransition otherwise.

    Entering Running counts one attempt and stamps `started_at` (Failed straight from a wait counts one
    too); Completed/Failed/Cancelled stamp
    `completed_at`; a retry (Failed -> Pending) clears it. `error` becomes `last_error` (kept on retries).
    `agent` takes the job with the move: it must be unassigned or already the agent's (InvalidTransition if
    another agent took it meanwhile). The caller's object is updated in place and returned.
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
    unchanged = Job.objects.filter(pk=job.pk, status=from_status, attempts=job.attempts)
    if agent is not None:
        changes["agent_id"] = agent.pk
        unchanged = unchanged.filter(Q(agent__isnull=True) | Q(agent=agent))
    with transaction.atomic():
        # Status and attempts as the caller saw them: a stale copy cannot move the job or miscount attempts.
        if not unchanged.update(**changes):
            current = Job.objects.filter(pk=job.pk).values_list("status", "agent_id").first()
            if current and current[0] == from_status and agent is not None and current[1] != agent.pk:
                reason = f"job {job.pk} was taken by another agent"
            else:
                now_status = current[0] if current else "deleted"
                reason = (
                    f"job {job.pk} changed concurrently (now {now_status}); cannot move it to {to_status}"
                )
            raise InvalidTransition(job, current[0] if current else from_status, to_status, reason)
        for field, value in changes.items():
            setattr(job, field, value)
        action = audit_action or (
            "job_approved"
            if (from_status, to_status) == (S.AWAITING_APPROVAL, S.PENDING)
            else _ACTIONS[to_status]
        )
        event = _move_event(
            job,
            from_status,
            to_status,
            actor=actor,
            actor_type=actor_type,
            now=now,
            action=action,
            details={**({"error": error} if error else {}), **(details or {})},
        )
        rows.insert(event)
    return job


def complete_running(
    running: list[Job], *, actor: str, actor_type: str, now: datetime, strict: bool = True
) -> tuple[list[Job], list[AuditEvent]]:
    """Running -> Completed for many jobs in one conditional UPDATE, inside the caller's transaction.

    Returns the jobs that moved (updated in place) and their unsaved audit events, for the caller to write with
    its own rows. A job that is no longer Running with the attempts the caller saw (cancelled or reaped
    meanwhile) does not move: with `strict` that raises InvalidTransition, otherwise it is left out.
    """
    for job in running:
        if job.status != S.RUNNING:
            raise InvalidTransition(job, job.status, S.COMPLETED)
    return _move_many(running, S.COMPLETED, actor=actor, actor_type=actor_type, now=now, strict=strict)


def start_waiting(
    waiting: list[Job], *, actor: str, actor_type: str, now: datetime, agent: Agent | None = None
) -> tuple[list[Job], list[AuditEvent]]:
    """Pending/AwaitingCSR -> Running for many jobs in one conditional UPDATE, inside the caller's transaction:
    the bulk twin of `transition(job, RUNNING, agent=agent)` (one attempt counted, `started_at` stamped, the
    jobs taken by `agent` if given).

    Returns the jobs that moved (updated in place) and their unsaved audit events, for the caller to write with
    its own rows; a job someone else moved (or another agent took) meanwhile is left out (the caller decides
    what that means).
    """
    for job in waiting:
        if not can_transition(job.status, S.RUNNING):
            raise InvalidTransition(job, job.status, S.RUNNING)
    return _move_many(
        waiting, S.RUNNING, actor=actor, actor_type=actor_type, now=now, strict=False, agent=agent
    )


def _move_many(
    jobs: list[Job],
    to_status: str,
    *,
    actor: str,
    actor_type: str,
    now: datetime,
    strict: bool,
    agent: Agent | None = None,
) -> tuple[list[Job], list[AuditEvent]]:
    """Move `jobs` to Running or Completed with one UPDATE conditional on the status and attempts the caller saw
    (as `transition` does for one job): stamps and counts as `transition`, audit events unsaved. With `agent`
    (to Running only), each job must be unassigned or the agent's, and is assigned to it."""
    if not jobs:
        return [], []
    if not connection.in_atomic_block:  # a strict refusal must be able to undo the jobs that did move
        raise RuntimeError(f"moving jobs to {to_status} must run inside the caller's transaction")
    changes: dict = {"status": to_status, "updated_at": now}
    if to_status == S.RUNNING:
        changes["started_at"] = now  # and one attempt more
    elif to_status == S.COMPLETED:
        changes.update(completed_at=now, last_error="")
    else:
        raise ValueError(f"jobs are moved in bulk to Running or Completed only, not {to_status}")
    if agent is not None:
        if to_status != S.RUNNING:
            raise ValueError("an agent takes a job only with its move to Running")
        changes["agent_id"] = agent.pk
    moved_ids = _update_where_unchanged(jobs, changes, count_attempt=to_status == S.RUNNING)
    if strict and len(moved_ids) != len(jobs):
        stale = next(job for job in jobs if job.pk not in moved_ids)
        raise InvalidTransition(
            stale,
            stale.status,
            to_status,
            f"job {stale.pk} changed concurrently; cannot move it to {to_status}",
        )
    moved, events = [], []
    for job in jobs:
        if job.pk not in moved_ids:
            continue
        from_status = job.status
        for field, value in changes.items():
            setattr(job, field, value)
        if to_status == S.RUNNING:
            job.attempts += 1
        moved.append(job)
        events.append(_move_event(job, from_status, to_status, actor=actor, actor_type=actor_type, now=now))
    return moved, events


def _update_where_unchanged(jobs: list[Job], changes: dict, *, count_attempt: bool) -> set[str]:
    """Ids of the jobs the UPDATE moved: those still at the status and attempts in memory (and, when the
    changes assign an agent, unassigned or already that agent's)."""
    taker = changes.get("agent_id")
    if connection.vendor != "postgresql":
        moved = set()
        for job in jobs:
            extra = {"attempts": job.attempts + 1} if count_attempt else {}
            unchanged = Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts)
            if taker is not None:
                unchanged = unchanged.filter(Q(agent__isnull=True) | Q(agent_id=taker))
            if unchanged.update(**changes, **extra):
                moved.add(job.pk)
        return moved
    qn = connection.ops.quote_name
    assignments = [f"{qn(field)} = %s" for field in changes]
    if count_attempt:
        assignments.append("attempts = j.attempts + 1")
    untaken = " AND (j.agent_id IS NULL OR j.agent_id = %s)" if taker is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} AS j SET {', '.join(assignments)} "  # noqa: S608 - our columns
            "FROM unnest(%s::varchar[], %s::varchar[], %s::integer[]) AS seen(id, status, attempts) "
            f"WHERE j.id = seen.id AND j.status = seen.status AND j.attempts = seen.attempts{untaken} "
            "RETURNING j.id",
            [
                *changes.values(),
                [j.pk for j in jobs],
                [j.status for j in jobs],
                [j.attempts for j in jobs],
                *([taker] if taker is not None else []),
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def _move_event(
    job: Job,
    from_status: str,
    to_status: str,
    *,
    actor: str,
    actor_type: str,
    now: datetime,
    action: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """The unsaved audit event of one job move (`job` already moved, `attempts` as counted)."""
    if action is None:
        action = (
            "renewal_job_completed"
            if (to_status, job.type) == (S.COMPLETED, JobType.RENEWAL)
            else _ACTIONS[to_status]
        )
    return new_audit_event(
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
            **(details or {}),
        },
        now=now,
    )


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
            settle_certificate_status(job.certificate, now=now)
    return job
