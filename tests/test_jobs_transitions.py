"""The job state machine: allowed moves, stamps, attempts, audit, and refusal of everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.models import AuditEvent
from certificates.enums import JobStatus
from certificates.models import Job
from certificates.services.jobs import TRANSITIONS, InvalidTransition, cancel, transition
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
