"""The periodic renewal check: one job per certificate inside its policy window, never twice, gate applied."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from audit.models import AuditEvent
from certificates.enums import ApprovalState, CertificateStatus, JobStatus
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services.renewal import run_renewal_check
from tests.factories import CertificateFactory, JobFactory, ProfileFactory, RenewalPolicyFactory
from tests.issuance_helpers import make_root

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def issuer(db):
    return make_root()


def _cert(issuer, days_left: float, *, window: int = 30, auto_renew: bool = True, **kwargs):
    policy = kwargs.pop("renewal_policy", None) or RenewalPolicyFactory(
        renewal_window_days=window, auto_renew=auto_renew
    )
    return CertificateFactory(
        issuer=issuer, renewal_policy=policy, expires_at=NOW + timedelta(days=days_left), **kwargs
    )


@pytest.mark.django_db
def test_job_is_created_only_inside_the_policy_window(issuer):
    inside = _cert(issuer, 29.9, window=30)
    outside = _cert(issuer, 30.1, window=30)
    wide = _cert(issuer, 50, window=60)

    result = run_renewal_check(now=NOW)

    assert result.created == 2
    assert set(Job.objects.values_list("certificate_id", flat=True)) == {inside.pk, wide.pk}
    job = Job.objects.get(certificate=inside)
    assert (job.type, job.status) == ("Renewal", JobStatus.PENDING)
    inside.refresh_from_db()
    outside.refresh_from_db()
    assert inside.status == CertificateStatus.RENEWAL_IN_PROGRESS
    assert outside.status == CertificateStatus.ACTIVE
    event = AuditEvent.objects.get(action="renewal_job_created", resource_id=inside.pk)
    assert event.actor == "system"
    assert event.details["job_id"] == job.pk


@pytest.mark.django_db
def test_auto_renew_off_and_unrenewable_states_are_left_alone(issuer):
    _cert(issuer, 5, auto_renew=False)
    for status in (CertificateStatus.FAILED, CertificateStatus.REVOKED, CertificateStatus.ARCHIVED):
        _cert(issuer, 5, status=status)
    assert run_renewal_check(now=NOW).created == 0
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_no_second_job_while_one_is_open(issuer):
    cert = _cert(issuer, 5)
    JobFactory(certificate=cert, type="Renewal", status=JobStatus.AWAITING_CSR)
    assert run_renewal_check(now=NOW).created == 0
    assert run_renewal_check(now=NOW).created == 0
    assert Job.objects.filter(certificate=cert).count() == 1


@pytest.mark.django_db
def test_running_twice_creates_one_job(issuer):
    _cert(issuer, 5)
    assert run_renewal_check(now=NOW).created == 1
    assert run_renewal_check(now=NOW).created == 0
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_closed_job_does_not_block_the_next_renewal(issuer):
    cert = _cert(issuer, 5)
    JobFactory(certificate=cert, type="Renewal", status=JobStatus.COMPLETED)
    assert run_renewal_check(now=NOW).created == 1


@pytest.mark.django_db
def test_disabled_issuer_is_skipped(issuer):
    issuer.enabled = False
    issuer.save()
    _cert(issuer, 5)
    assert run_renewal_check(now=NOW).created == 0


@pytest.mark.django_db
def test_approval_gate_applies_to_the_loop(issuer):
    profile = ProfileFactory(requires_approval=True)
    cert = _cert(issuer, 5, profile=profile)
    run_renewal_check(now=NOW)
    job = Job.objects.get(certificate=cert)
    assert job.status == JobStatus.AWAITING_APPROVAL
    request = ApprovalRequest.objects.get(job=job)
    assert (request.state, request.requested_by, request.profile_id) == (
        ApprovalState.PENDING,
        "system",
        profile.pk,
    )


@pytest.mark.django_db
def test_approval_bypass_approves_at_once(issuer, settings):
    settings.APPROVAL_BYPASS = True
    cert = _cert(issuer, 5, profile=ProfileFactory(requires_approval=True))
    run_renewal_check(now=NOW)
    job = Job.objects.get(certificate=cert)
    assert job.status == JobStatus.PENDING
    request = ApprovalRequest.objects.get(job=job)
    assert (request.state, request.decided_by) == (ApprovalState.APPROVED, "system-bypass")
    assert AuditEvent.objects.filter(action="approval_bypassed", resource_id=request.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_create_exactly_one_job_per_certificate():
    issuer = make_root()
    policy = RenewalPolicyFactory(renewal_window_days=30)
    certs = [_cert(issuer, 1 + i % 20, renewal_policy=policy) for i in range(40)]
    start = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(run_renewal_check(now=NOW).created)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(results) == len(certs)
    assert Job.objects.count() == len(certs)
    assert set(Job.objects.values_list("certificate_id", flat=True)) == {c.pk for c in certs}
