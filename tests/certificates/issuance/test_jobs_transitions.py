"""The job state machine: allowed moves, stamps, attempts, audit, and refusal of everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from audit.models import AuditEvent
from certificates.enums import JobStatus
from certificates.issuance.models import Job
from certificates.issuance.services.jobs import (
    TRANSITIONS,
    InvalidTransition,
    cancel,
    complete_running,
    transition,
)
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db
S = JobStatus
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ALLOWED = [(a, b) for a, targets in TRANSITIONS.items() for b in targets]
FORBIDDEN = [(a, b) for a in S.values for b in S.values if b not in TRANSITIONS[a]]


def test_the_table_matches_the_spec():
    assert (S.PENDING, S.RUNNING) in ALLOWED
    assert (S.RUNNING, S.AWAITING_CSR) in ALLOWED
    assert (S.AWAITING_CSR, S.RUNNING) in ALLOWED
    assert (S.AWAITING_APPROVAL, S.PENDING) in ALLOWED
    assert (S.AWAITING_APPROVAL, S.CANCELLED) in ALLOWED
    assert (S.FAILED, S.PENDING) in ALLOWED
    assert not TRANSITIONS[S.COMPLETED] and not TRANSITIONS[S.CANCELLED]


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_allowed_transition_moves_and_audits(from_status, to_status):
    job = JobFactory(status=from_status)
    transition(job, to_status, actor="alice", actor_type="User", now=NOW)
    job.refresh_from_db()
    assert job.status == to_status
    event = AuditEvent.objects.get(resource_type="job", resource_id=job.pk)
    assert event.actor == "alice"
    assert event.details["from_status"] == from_status
    assert event.details["to_status"] == to_status


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_forbidden_transition_raises_and_changes_nothing(from_status, to_status):
    job = JobFactory(status=from_status)
    with pytest.raises(InvalidTransition):
        transition(job, to_status, actor="alice", actor_type="User", now=NOW)
    job.refresh_from_db()
    assert job.status == from_status
    assert not AuditEvent.objects.filter(resource_type="job", resource_id=job.pk).exists()


def test_running_counts_an_attempt_and_stamps_started_at():
    job = JobFactory(status=S.PENDING)
    transition(job, S.RUNNING, actor="system", actor_type="System", now=NOW)
    transition(
        job, S.FAILED, actor="system", actor_type="System", error="boom", now=NOW + timedelta(seconds=5)
    )
    transition(job, S.PENDING, actor="system", actor_type="System", now=NOW + timedelta(minutes=5))
    transition(job, S.RUNNING, actor="system", actor_type="System", now=NOW + timedelta(minutes=6))
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.started_at == NOW + timedelta(minutes=6)
    assert job.completed_at is None
    assert job.last_error == "boom"
    transition(job, S.COMPLETED, actor="system", actor_type="System", now=NOW + timedelta(minutes=7))
    job.refresh_from_db()
    assert job.completed_at == NOW + timedelta(minutes=7)
    assert job.last_error == ""


def test_retry_is_audited_as_job_retry():
    job = JobFactory(status=S.FAILED)
    transition(job, S.PENDING, actor="system", actor_type="System", now=NOW)
    assert AuditEvent.objects.filter(action="job_retry", resource_id=job.pk).exists()


def test_a_stale_copy_cannot_move_a_job_someone_else_moved():
    job = JobFactory(status=S.PENDING)
    stale = Job.objects.get(pk=job.pk)
    transition(job, S.RUNNING, actor="worker-1", actor_type="System", now=NOW)
    with pytest.raises(InvalidTransition, match="changed concurrently"):
        transition(stale, S.RUNNING, actor="worker-2", actor_type="System", now=NOW)
    job.refresh_from_db()
    assert job.attempts == 1


@pytest.mark.parametrize("status", [S.PENDING, S.AWAITING_CSR, S.RUNNING])
def test_cancel_open_job(status):
    job = JobFactory(status=status)
    cancel(job, actor="alice", now=NOW)
    job.refresh_from_db()
    assert job.status == S.CANCELLED
    assert job.last_error == "cancelled by user"


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.FAILED, S.AWAITING_APPROVAL])
def test_cancel_refuses_closed_or_approval_jobs(status):
    job = JobFactory(status=status)
    with pytest.raises(InvalidTransition):
        cancel(job, actor="alice", now=NOW)


def test_a_stale_copy_with_the_same_status_cannot_miscount_attempts():
    job = JobFactory(status=S.PENDING)
    stale = Job.objects.get(pk=job.pk)
    for to_status in (S.RUNNING, S.FAILED, S.PENDING):  # another worker ran and failed it meanwhile
        transition(job, to_status, actor="worker-1", actor_type="System", now=NOW)
    with pytest.raises(InvalidTransition, match="changed concurrently"):
        transition(stale, S.RUNNING, actor="worker-2", actor_type="System", now=NOW)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (S.PENDING, 1)


def _running(**kwargs) -> Job:
    return JobFactory(status=S.RUNNING, attempts=1, **kwargs)


def test_complete_running_moves_every_running_job_and_returns_their_unsaved_audit_rows():
    renewal, issuance, deployment = (
        _running(type="Renewal"),
        _running(type="Issuance"),
        _running(type="Deployment"),
    )

    moved, events = complete_running(
        [renewal, issuance, deployment], actor="worker-1", actor_type="System", now=NOW
    )

    assert moved == [renewal, issuance, deployment]
    for job in moved:
        stored = Job.objects.get(pk=job.pk)
        assert (stored.status, stored.attempts, stored.completed_at, stored.updated_at) == (
            S.COMPLETED,
            1,
            NOW,
            NOW,
        )
        assert (job.status, job.completed_at) == (S.COMPLETED, NOW)  # the caller's objects too
    assert [event.action for event in events] == ["renewal_job_completed", "job_completed", "job_completed"]
    for event, job in zip(events, moved, strict=True):
        assert isinstance(event, AuditEvent) and event._state.adding
        assert (event.resource_type, event.resource_id) == ("job", job.pk)
        assert (event.actor, event.actor_type, event.timestamp) == ("worker-1", "System", NOW)
        assert event.details == {
            "from_status": S.RUNNING,
            "to_status": S.COMPLETED,
            "job_type": job.type,
            "certificate_id": job.certificate_id,
            "attempts": 1,
        }
    assert not AuditEvent.objects.exists()  # the caller writes them with its own rows


def test_strict_complete_running_refuses_when_one_job_moved_meanwhile():
    jobs = [_running(), _running(), _running()]
    Job.objects.filter(pk=jobs[1].pk).update(status=S.CANCELLED)  # the caller's copy still says Running

    with pytest.raises(InvalidTransition, match="changed concurrently") as refused, transaction.atomic():
        complete_running(jobs, actor="worker-1", actor_type="System", now=NOW)

    assert refused.value.job is jobs[1]
    # the caller's transaction rolls back: nothing moved, in the database or in memory
    stored = dict(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("pk", "status"))
    assert stored == {jobs[0].pk: S.RUNNING, jobs[1].pk: S.CANCELLED, jobs[2].pk: S.RUNNING}
    assert {job.status for job in jobs} == {S.RUNNING}


def test_non_strict_complete_running_returns_only_the_jobs_it_moved():
    jobs = [_running(type="Renewal"), _running(type="Renewal"), _running(type="Renewal")]
    Job.objects.filter(pk=jobs[0].pk).update(status=S.CANCELLED)
    Job.objects.filter(pk=jobs[2].pk).update(attempts=2)  # reaped and re-run meanwhile: still Running

    moved, events = complete_running(jobs, actor="worker-1", actor_type="System", now=NOW, strict=False)

    assert moved == [jobs[1]]
    assert [event.resource_id for event in events] == [jobs[1].pk]
    stored = {job.pk: (job.status, job.attempts) for job in Job.objects.filter(pk__in=[j.pk for j in jobs])}
    assert stored == {jobs[0].pk: (S.CANCELLED, 1), jobs[1].pk: (S.COMPLETED, 1), jobs[2].pk: (S.RUNNING, 2)}
    assert (jobs[0].status, jobs[2].status) == (S.RUNNING, S.RUNNING)  # left as the caller saw them


def test_complete_running_refuses_a_job_the_caller_does_not_hold_running():
    running, pending = _running(), JobFactory(status=S.PENDING)

    with pytest.raises(InvalidTransition):
        complete_running([running, pending], actor="worker-1", actor_type="System", now=NOW, strict=False)

    assert Job.objects.get(pk=running.pk).status == S.RUNNING
    assert complete_running([], actor="worker-1", actor_type="System", now=NOW) == ([], [])


@pytest.mark.django_db(transaction=True)
def test_complete_running_refuses_to_run_outside_a_transaction():
    job = _running(type="Renewal")
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        complete_running([job], actor="worker-1", actor_type="System", now=NOW)
    assert Job.objects.get(pk=job.pk).status == S.RUNNING
