"""The job sweeps: execute server jobs, hand agent jobs over, retry failures, time out stale waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from certificates.enums import ApprovalState, CertificateStatus, JobStatus
from certificates.inventory.models import CertificateVersion
from certificates.issuance.models import ApprovalRequest, Job, ServerGeneratedKey
from certificates.issuance.services import job_processor
from certificates.issuance.services.approvals import open_request
from certificates.issuance.services.job_processor import process_pending, reap_timeouts, retry_failed
from notifications.models import NotificationEvent
from tests.factories import (
    CertificateFactory,
    IssuerFactory,
    JobFactory,
    ProfileFactory,
    RenewalPolicyFactory,
)
from tests.issuance_helpers import issuable_certificate, make_root

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def issuer(db):
    return make_root()


def _renewal_job(cert, status=JobStatus.PENDING, **kwargs):
    return JobFactory(
        certificate=cert, type="Renewal", status=status, scheduled_at=NOW - timedelta(seconds=1), **kwargs
    )


def test_server_keygen_job_is_issued_and_its_key_stored_encrypted(issuer, settings):
    settings.KEYGEN_MODE = "server"
    cert = issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS)
    job = _renewal_job(cert)

    result = process_pending(now=NOW)

    assert result.completed == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)
    assert job.started_at == NOW and job.completed_at == NOW
    version = CertificateVersion.objects.get(certificate=cert)
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE and cert.expires_at == version.not_after
    assert ServerGeneratedKey.objects.filter(version=version).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_private_key FROM certificates_servergeneratedkey")
        (stored,) = cursor.fetchone()
    assert stored and "PRIVATE KEY" not in stored


def test_agent_mode_hands_issuing_jobs_to_the_agent(issuer, settings):
    settings.KEYGEN_MODE = "agent"
    job = _renewal_job(issuable_certificate(issuer))
    result = process_pending(now=NOW)
    assert result.handed_to_agent == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.AWAITING_CSR, 0)
    assert AuditEvent.objects.filter(action="renewal_awaiting_csr", resource_id=job.pk).exists()


def test_deployment_jobs_are_never_claimed_by_the_server(issuer, settings):
    settings.KEYGEN_MODE = "server"
    deployment = JobFactory(
        type="Deployment", status=JobStatus.PENDING, scheduled_at=NOW - timedelta(minutes=1)
    )
    process_pending(now=NOW)
    deployment.refresh_from_db()
    assert (deployment.status, deployment.attempts) == (JobStatus.PENDING, 0)


def test_future_jobs_wait_for_their_time(issuer, settings):
    settings.KEYGEN_MODE = "server"
    job = JobFactory(
        certificate=issuable_certificate(issuer), type="Issuance", scheduled_at=NOW + timedelta(minutes=1)
    )
    process_pending(now=NOW)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING


def _failing_cert():
    """A certificate whose issuer has no CA material: every attempt fails at signing."""
    policy = RenewalPolicyFactory(max_retries=2, retry_interval_seconds=300)
    return CertificateFactory(issuer=IssuerFactory(), renewal_policy=policy, profile=ProfileFactory())


def test_failed_renewal_leaves_a_visible_state_and_notifies(settings):
    settings.KEYGEN_MODE = "server"
    cert = _failing_cert()
    job = _renewal_job(cert, max_attempts=2)

    result = process_pending(now=NOW)

    assert result.failed == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert "has no CA certificate" in job.last_error
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.FAILED
    note = NotificationEvent.objects.get(certificate=cert, type="RenewalFailure")
    assert note.recipient == cert.owner.email
    assert "attempt 1 of 2" in note.message
    assert AuditEvent.objects.filter(action="renewal_job_failed", resource_id=job.pk).exists()


def test_failed_job_is_retried_after_the_interval_until_attempts_run_out(settings):
    settings.KEYGEN_MODE = "server"
    cert = _failing_cert()
    job = _renewal_job(cert, max_attempts=2)
    process_pending(now=NOW)

    assert retry_failed(now=NOW + timedelta(seconds=299)).retried == []
    assert retry_failed(now=NOW + timedelta(seconds=300)).retried == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.RENEWAL_IN_PROGRESS
    assert AuditEvent.objects.filter(action="job_retry", resource_id=job.pk).exists()

    later = NOW + timedelta(seconds=300)
    process_pending(now=later)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert retry_failed(now=later + timedelta(days=1)).retried == []
    assert NotificationEvent.objects.filter(certificate=cert, type="RenewalFailure").count() == 2


def test_retry_of_a_superseded_job_cancels_it(issuer):
    cert = issuable_certificate(issuer)
    old = JobFactory(certificate=cert, type="Renewal", status=JobStatus.FAILED, attempts=1)
    Job.objects.filter(pk=old.pk).update(
        scheduled_at=NOW - timedelta(days=2), completed_at=NOW - timedelta(days=1)
    )
    JobFactory(certificate=cert, type="Renewal", status=JobStatus.AWAITING_CSR)
    retry_failed(now=NOW)
    old.refresh_from_db()
    assert old.status == JobStatus.CANCELLED


def test_awaiting_csr_times_out_after_24_hours(issuer):
    cert = issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS)
    stale = _renewal_job(cert, status=JobStatus.AWAITING_CSR)
    fresh = _renewal_job(issuable_certificate(issuer), status=JobStatus.AWAITING_CSR)
    Job.objects.filter(pk=stale.pk).update(updated_at=NOW - timedelta(hours=24, seconds=1))
    Job.objects.filter(pk=fresh.pk).update(updated_at=NOW - timedelta(hours=23))

    result = reap_timeouts(now=NOW)

    assert result.timed_out == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, stale.attempts) == (JobStatus.FAILED, 1)
    assert "no CSR was submitted within 24 h" in stale.last_error
    assert fresh.status == JobStatus.AWAITING_CSR
    event = AuditEvent.objects.get(action="job_timeout", resource_id=stale.pk)
    assert event.details["timeout_reason"] == "csr_timeout"
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.FAILED


def test_awaiting_approval_expires_after_7_days_and_cancels_the_job(issuer, time_machine):
    cert = issuable_certificate(
        issuer, profile=ProfileFactory(requires_approval=True), status=CertificateStatus.RENEWAL_IN_PROGRESS
    )
    time_machine.move_to(NOW - timedelta(days=7, seconds=1), tick=False)
    job = _renewal_job(cert, status=JobStatus.AWAITING_APPROVAL)
    request = open_request(job, cert, requested_by="alice", actor_type="User", now=NOW - timedelta(days=7))
    time_machine.move_to(NOW, tick=False)

    assert reap_timeouts(now=NOW - timedelta(seconds=2)).approvals_expired == 0
    assert reap_timeouts(now=NOW).approvals_expired == 1

    request.refresh_from_db()
    job.refresh_from_db()
    cert.refresh_from_db()
    assert (request.state, request.decided_by) == (ApprovalState.EXPIRED, "system-reaper")
    assert (job.status, job.last_error) == (JobStatus.CANCELLED, "approval expired")
    assert cert.status == CertificateStatus.PENDING  # never issued: back to its expiry-derived state
    assert AuditEvent.objects.filter(action="approval_expired", resource_id=request.pk).exists()


def test_running_server_job_past_its_lease_fails_so_it_can_be_retried(issuer):
    job = _renewal_job(issuable_certificate(issuer), status=JobStatus.RUNNING, attempts=1)
    Job.objects.filter(pk=job.pk).update(started_at=NOW - timedelta(minutes=11))
    agent_job = JobFactory(type="Deployment", status=JobStatus.RUNNING)
    Job.objects.filter(pk=agent_job.pk).update(started_at=NOW - timedelta(hours=2))

    assert reap_timeouts(now=NOW).timed_out == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    agent_job.refresh_from_db()
    assert agent_job.status == JobStatus.RUNNING


def test_approved_request_keeps_approved_state_after_reaping(issuer):
    cert = issuable_certificate(issuer, profile=ProfileFactory(requires_approval=True))
    job = _renewal_job(cert, status=JobStatus.AWAITING_APPROVAL)
    request = ApprovalRequest.objects.create(
        certificate=cert,
        job=job,
        profile=cert.profile,
        requested_by="alice",
        state="approved",
        decided_by="bob",
        decided_at=NOW,
    )
    reap_timeouts(now=NOW + timedelta(days=30))
    request.refresh_from_db()
    assert request.state == ApprovalState.APPROVED


@pytest.mark.django_db(transaction=True)
def test_concurrent_processors_run_each_job_exactly_once(settings):
    import threading

    settings.KEYGEN_MODE = "server"
    issuer = make_root()
    job_ids = [_renewal_job(issuable_certificate(issuer)).pk for _ in range(12)]
    start = threading.Barrier(3)
    done, errors = [], []

    def run():
        try:
            start.wait()
            done.extend(process_pending(now=NOW, batch_size=5).completed)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    process_pending(now=NOW)  # whatever the three batches left

    assert errors == []
    assert len(done) == len(set(done))
    jobs = Job.objects.filter(pk__in=job_ids)
    assert {(j.status, j.attempts) for j in jobs} == {(JobStatus.COMPLETED, 1)}
    assert CertificateVersion.objects.count() == len(job_ids)


def test_timeouts_follow_their_settings(issuer, settings):
    settings.JOB_AWAITING_CSR_TIMEOUT = 3600
    settings.JOB_AWAITING_APPROVAL_TIMEOUT = 3600
    csr_job = _renewal_job(issuable_certificate(issuer), status=JobStatus.AWAITING_CSR)
    Job.objects.filter(pk=csr_job.pk).update(updated_at=NOW - timedelta(hours=1, seconds=1))
    gated = issuable_certificate(issuer, profile=ProfileFactory(requires_approval=True))
    approval_job = _renewal_job(gated, status=JobStatus.AWAITING_APPROVAL)
    request = open_request(approval_job, gated, requested_by="alice", actor_type="User", now=NOW)
    ApprovalRequest.objects.filter(pk=request.pk).update(created_at=NOW - timedelta(hours=1, seconds=1))

    result = reap_timeouts(now=NOW)

    assert (result.timed_out, result.approvals_expired) == ([csr_job.pk], 1)
    csr_job.refresh_from_db()
    assert csr_job.status == JobStatus.FAILED
    assert "no CSR was submitted within 1 h" in csr_job.last_error
    request.refresh_from_db()
    approval_job.refresh_from_db()
    assert (request.state, approval_job.status) == (ApprovalState.EXPIRED, JobStatus.CANCELLED)


def _sweep_queries(issuer, jobs_due: int) -> list[str]:
    """The SQL Django's cursor ran for one sweep of `jobs_due` server-keygen renewals (rows.write bypasses it)."""
    for _ in range(jobs_due):
        _renewal_job(issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS))
    with CaptureQueriesContext(connection) as captured:
        assert len(process_pending(now=NOW).completed) == jobs_due
    return [query["sql"] for query in captured.captured_queries]


def test_one_sweep_issues_every_claimed_server_keygen_job(issuer, settings):
    settings.KEYGEN_MODE = "server"
    certs = [issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS) for _ in range(5)]
    job_ids = [_renewal_job(cert).pk for cert in certs]

    result = process_pending(now=NOW)

    assert sorted(result.completed) == sorted(job_ids) and result.failed == []
    for job in Job.objects.filter(pk__in=job_ids):
        assert (job.status, job.attempts, job.completed_at) == (JobStatus.COMPLETED, 1, NOW)
        assert AuditEvent.objects.filter(action="renewal_job_completed", resource_id=job.pk).count() == 1
    for cert in certs:
        version = CertificateVersion.objects.get(certificate=cert)
        assert ServerGeneratedKey.objects.filter(version=version).count() == 1
        cert.refresh_from_db()
        assert (cert.status, cert.expires_at) == (CertificateStatus.ACTIVE, version.not_after)
    assert NotificationEvent.objects.filter(type="RenewalSuccess").count() == 5


def test_a_sweep_reads_its_certificates_in_one_query_whatever_the_number_of_jobs(issuer, settings):
    settings.KEYGEN_MODE = "server"
    two, six = _sweep_queries(issuer, 2), _sweep_queries(issuer, 6)

    def certificate_reads(queries):
        return [
            sql
            for sql in queries
            if sql.startswith("SELECT") and 'FROM "certificates_managedcertificate" ' in sql
        ]

    assert len(certificate_reads(two)) == len(certificate_reads(six)) == 1
    # No read of any kind per job: only the claim's Running transitions grow with the batch (SAVEPOINT, the
    # conditional UPDATE, the audit INSERT and RELEASE each); the issuance writes are one statement per batch.
    assert sum(sql.startswith("SELECT") for sql in six) == sum(sql.startswith("SELECT") for sql in two)
    assert len(six) - len(two) == (6 - 2) * 4


def test_a_crash_of_the_batch_issuance_falls_back_to_issuing_each_job(issuer, settings, monkeypatch):
    settings.KEYGEN_MODE = "server"
    certs = [issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS) for _ in range(3)]
    job_ids = [_renewal_job(cert).pk for cert in certs]

    def crash(*args, **kwargs):
        raise RuntimeError("a bug in issue_many")

    monkeypatch.setattr(job_processor, "issue_many", crash)

    result = process_pending(now=NOW)

    assert sorted(result.completed) == sorted(job_ids) and result.failed == []
    assert {(job.status, job.attempts) for job in Job.objects.filter(pk__in=job_ids)} == {
        (JobStatus.COMPLETED, 1)
    }
    for cert in certs:
        version = CertificateVersion.objects.get(certificate=cert)
        assert ServerGeneratedKey.objects.filter(version=version).exists()
