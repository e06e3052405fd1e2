"""`issue_many`: issue_from_csr for many certificates at once, each outcome on its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError

from audit.models import AuditEvent
from certificates.enums import CertificateStatus, JobStatus
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.models import Job
from certificates.issuance.services import issuance
from certificates.issuance.services.issuance import (
    CertificateNotIssuable,
    CSRInvalid,
    IssueRequest,
    ProfileViolation,
    issue_many,
)
from certificates.issuance.services.jobs import InvalidTransition
from notifications.models import NotificationEvent
from tests.factories import JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def issuer(db):
    return make_root()


def _request(certificate, job=None) -> IssueRequest:
    return IssueRequest(certificate, make_csr(names_of(certificate))[0], job=job)


def _running_job(certificate) -> Job:
    return JobFactory(certificate=certificate, type="Renewal", status=JobStatus.RUNNING, attempts=1)


def _assert_issued(outcome) -> None:
    """The version is stored and the certificate carries it, with exactly one notification and audit row."""
    certificate, version = outcome.request.certificate, outcome.version
    assert outcome.error is None and version is not None
    assert CertificateVersion.objects.get(certificate=certificate) == version
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ACTIVE
    assert certificate.expires_at == version.not_after
    assert certificate.last_renewal_at == NOW
    note = NotificationEvent.objects.get(certificate=certificate)
    assert note.type == "RenewalSuccess" and note.recipient == certificate.owner.email
    audit = AuditEvent.objects.get(action="certificate_issued", resource_id=certificate.pk)
    assert audit.details["version_id"] == version.pk and audit.details["serial"] == version.serial_number


def _assert_not_issued(certificate, status=CertificateStatus.PENDING) -> None:
    assert not CertificateVersion.objects.filter(certificate=certificate).exists()
    assert not NotificationEvent.objects.filter(certificate=certificate).exists()
    assert not AuditEvent.objects.filter(action="certificate_issued", resource_id=certificate.pk).exists()
    certificate.refresh_from_db()
    assert (certificate.status, certificate.expires_at) == (status, None)


def test_a_mixed_batch_issues_the_good_requests_and_reports_each_bad_one(issuer):
    good = [issuable_certificate(issuer) for _ in range(3)]
    wrong_names = issuable_certificate(issuer)
    garbage = issuable_certificate(issuer)
    disabled_issuer = make_root("disabled-ca")
    disabled_issuer.enabled = False
    disabled_issuer.save(update_fields=["enabled"])
    on_disabled = issuable_certificate(disabled_issuer)
    requests = [
        _request(good[0]),
        IssueRequest(wrong_names, make_csr(["someone-else.example.test"])[0]),
        _request(good[1]),
        IssueRequest(
            garbage, "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----"
        ),
        _request(on_disabled),
        _request(good[2]),
    ]

    outcomes = issue_many(requests, actor="alice", actor_type="User", now=NOW)

    assert [outcome.request for outcome in outcomes] == requests
    errors = [type(outcome.error) if outcome.error else None for outcome in outcomes]
    assert errors == [None, ProfileViolation, None, CSRInvalid, CertificateNotIssuable, None]
    for n in (0, 2, 5):
        _assert_issued(outcomes[n])
    for certificate in (wrong_names, garbage, on_disabled):
        _assert_not_issued(certificate)
        assert next(o for o in outcomes if o.request.certificate is certificate).version is None
    assert CertificateVersion.objects.count() == NotificationEvent.objects.count() == 3
    assert AuditEvent.objects.filter(action="certificate_issued").count() == 3
    assert AuditEvent.objects.get(resource_id=good[0].pk).actor == "alice"


def test_requests_are_written_in_chunks_of_the_write_batch(issuer, monkeypatch):
    monkeypatch.setattr(issuance, "WRITE_BATCH", 2)
    requests = [_request(issuable_certificate(issuer)) for _ in range(5)]

    outcomes = issue_many(requests, actor="system", now=NOW)

    for outcome in outcomes:
        _assert_issued(outcome)
    assert len({outcome.version.fingerprint_sha256 for outcome in outcomes}) == 5
    assert CertificateVersion.objects.count() == 5


def test_running_jobs_are_completed_without_counting_another_attempt(issuer):
    certificates = [
        issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS) for _ in range(3)
    ]
    running = [_running_job(certificate) for certificate in certificates]

    outcomes = issue_many(
        [_request(c, job) for c, job in zip(certificates, running, strict=True)], actor="system", now=NOW
    )

    for outcome, job in zip(outcomes, running, strict=True):
        _assert_issued(outcome)
        job.refresh_from_db()
        assert (job.status, job.attempts, job.completed_at, job.last_error) == (
            JobStatus.COMPLETED,
            1,
            NOW,
            "",
        )
        audit = AuditEvent.objects.get(action="renewal_job_completed", resource_id=job.pk)
        assert audit.details["from_status"] == JobStatus.RUNNING and audit.details["attempts"] == 1
        issued = AuditEvent.objects.get(action="certificate_issued", resource_id=job.certificate_id)
        assert issued.details["job_id"] == job.pk


def test_a_job_cancelled_after_it_was_loaded_is_left_out_and_the_others_are_issued(issuer):
    certificates = [
        issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS) for _ in range(3)
    ]
    running = [_running_job(certificate) for certificate in certificates]
    Job.objects.filter(pk=running[1].pk).update(
        status=JobStatus.CANCELLED
    )  # the caller's copy still says Running

    outcomes = issue_many(
        [_request(c, job) for c, job in zip(certificates, running, strict=True)], actor="system", now=NOW
    )

    assert isinstance(outcomes[1].error, InvalidTransition) and outcomes[1].version is None
    _assert_not_issued(certificates[1], status=CertificateStatus.RENEWAL_IN_PROGRESS)
    assert Job.objects.get(pk=running[1].pk).status == JobStatus.CANCELLED
    assert not AuditEvent.objects.filter(resource_id=running[1].pk).exists()
    for n in (0, 2):
        _assert_issued(outcomes[n])
        assert Job.objects.get(pk=running[n].pk).status == JobStatus.COMPLETED


@pytest.mark.parametrize("final", [JobStatus.CANCELLED, JobStatus.COMPLETED])
def test_a_job_in_a_final_state_is_refused_before_signing(issuer, final):
    certificate = issuable_certificate(issuer)
    done = JobFactory(certificate=certificate, type="Renewal", status=final)

    (outcome,) = issue_many([_request(certificate, done)], actor="system", now=NOW)

    assert isinstance(outcome.error, InvalidTransition)
    _assert_not_issued(certificate)
    done.refresh_from_db()
    assert (done.status, done.attempts) == (final, 0)


@pytest.mark.parametrize("waiting", [JobStatus.PENDING, JobStatus.AWAITING_CSR])
def test_a_waiting_job_is_started_and_completed_with_its_issuance_as_issue_from_csr_does(issuer, waiting):
    """Agents submit CSRs for AwaitingCSR jobs: the job goes through Running (one attempt, audited) to Completed in
    the write's transaction, and a CSR the checks refuse leaves its job waiting, untouched."""
    good, bad = issuable_certificate(issuer), issuable_certificate(issuer)
    good_job = JobFactory(certificate=good, type="Renewal", status=waiting)
    bad_job = JobFactory(certificate=bad, type="Renewal", status=waiting)

    ok, refused = issue_many(
        [_request(good, good_job), IssueRequest(bad, make_csr(["evil.example.org"])[0], bad_job)],
        actor="agent-1",
        actor_type="Agent",
        now=NOW,
    )

    assert ok.error is None and ok.version is not None
    good_job.refresh_from_db()
    assert (good_job.status, good_job.attempts, good_job.started_at) == (JobStatus.COMPLETED, 1, NOW)
    moves = AuditEvent.objects.filter(resource_type="job", resource_id=good_job.pk)
    assert {(e.details["from_status"], e.details["to_status"]) for e in moves} == {
        (waiting, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.COMPLETED),
    }
    assert isinstance(refused.error, ProfileViolation)
    bad_job.refresh_from_db()
    assert (bad_job.status, bad_job.attempts) == (waiting, 0)
    _assert_not_issued(bad)


@pytest.mark.django_db(transaction=True)
def test_a_batch_the_database_refuses_is_retried_one_by_one():
    """A certificate deleted after the caller loaded it: the checks and the signing use the caller's objects, and
    PostgreSQL checks the foreign keys of its new rows at COMMIT, so the whole batch is refused and only a
    one-by-one retry tells the bad issuance apart."""
    issuer = make_root()
    certificates = [
        issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS) for _ in range(4)
    ]
    running = [_running_job(certificate) for certificate in certificates[:3]]
    requests = [_request(c, job) for c, job in zip(certificates[:3], running, strict=True)]
    deleted_pk = certificates[3].pk
    requests.insert(1, _request(certificates[3]))
    ManagedCertificate.objects.filter(pk=deleted_pk).delete()  # an operator, meanwhile

    outcomes = issue_many(requests, actor="system", now=NOW)

    assert isinstance(outcomes[1].error, DatabaseError) and outcomes[1].version is None
    assert not CertificateVersion.objects.filter(certificate_id=deleted_pk).exists()
    assert not NotificationEvent.objects.filter(certificate_id=deleted_pk).exists()
    assert not AuditEvent.objects.filter(action="certificate_issued", resource_id=deleted_pk).exists()
    for outcome in (outcomes[0], *outcomes[2:]):
        _assert_issued(outcome)
    for job in running:
        job.refresh_from_db()
        assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)
        assert AuditEvent.objects.filter(action="renewal_job_completed", resource_id=job.pk).count() == 1
    assert CertificateVersion.objects.count() == 3


def test_a_waiting_job_cancelled_meanwhile_is_not_started_and_the_others_are_issued(issuer):
    """The jobs move to Running in one conditional UPDATE: a job whose status changed after the caller read it
    (an operator cancelled it) does not move, is not issued, and does not hold up the rest of the batch."""
    kept, cancelled = issuable_certificate(issuer), issuable_certificate(issuer)
    kept_job = JobFactory(certificate=kept, type="Renewal", status=JobStatus.AWAITING_CSR)
    stale_job = JobFactory(certificate=cancelled, type="Renewal", status=JobStatus.AWAITING_CSR)
    Job.objects.filter(pk=stale_job.pk).update(status=JobStatus.CANCELLED)  # after the caller read it

    ok, refused = issue_many(
        [_request(kept, kept_job), _request(cancelled, stale_job)],
        actor="agent-1",
        actor_type="Agent",
        now=NOW,
    )

    assert ok.version is not None
    assert isinstance(refused.error, InvalidTransition) and refused.version is None
    _assert_not_issued(cancelled)
    stale_job.refresh_from_db()
    assert (stale_job.status, stale_job.attempts) == (JobStatus.CANCELLED, 0)
    assert not AuditEvent.objects.filter(resource_type="job", resource_id=stale_job.pk).exists()
    kept_job.refresh_from_db()
    assert (kept_job.status, kept_job.attempts) == (JobStatus.COMPLETED, 1)


def test_the_submitting_agent_takes_untaken_jobs_only_with_their_issuance(issuer):
    """An agent's CSRs assign their jobs to it in the same conditional UPDATE that starts them: an unassigned
    job and one already the agent's are taken and issued; one another agent took after the caller read it is not
    started or issued; a CSR the checks refuse leaves its job unassigned."""
    from tests.agent_helpers import make_agent

    me, _ = make_agent()
    other, _ = make_agent()
    certificates = [issuable_certificate(issuer) for _ in range(4)]
    free, mine, lost, refused = (
        JobFactory(certificate=c, type="Renewal", status=JobStatus.AWAITING_CSR) for c in certificates
    )
    Job.objects.filter(pk=mine.pk).update(agent=me)
    mine.refresh_from_db()
    Job.objects.filter(pk=lost.pk).update(agent=other)  # the other agent's poll, after the caller read it
    requests = [
        IssueRequest(certificates[0], make_csr(names_of(certificates[0]))[0], free, agent=me),
        IssueRequest(certificates[1], make_csr(names_of(certificates[1]))[0], mine, agent=me),
        IssueRequest(certificates[2], make_csr(names_of(certificates[2]))[0], lost, agent=me),
        IssueRequest(certificates[3], make_csr(["evil.example.org"])[0], refused, agent=me),
    ]

    outcomes = issue_many(requests, actor=me.name, actor_type="Agent", now=NOW)

    assert [type(o.error) for o in outcomes] == [type(None), type(None), InvalidTransition, ProfileViolation]
    for job in (free, mine):
        job.refresh_from_db()
        assert (job.status, job.agent_id, job.attempts) == (JobStatus.COMPLETED, me.pk, 1)
    lost.refresh_from_db()
    assert (lost.status, lost.agent_id, lost.attempts) == (JobStatus.AWAITING_CSR, other.pk, 0)
    _assert_not_issued(certificates[2])
    refused.refresh_from_db()
    assert (refused.status, refused.agent_id, refused.attempts) == (JobStatus.AWAITING_CSR, None, 0)
