"""The server's job sweeps: run Pending jobs it executes itself, re-arm failed jobs, time out stale waits.

Each sweep claims rows with `SELECT … FOR UPDATE SKIP LOCKED` in a short transaction and moves them on through
`jobs.transition` (a conditional update), so any number of workers can run them at once. Deployment jobs belong
to agents and are never claimed here; in agent keygen mode issuance/renewal jobs are handed to the agent
(AwaitingCSR) instead of executed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from certificates.enums import CertificateStatus, JobStatus, JobType
from certificates.inventory.models import ManagedCertificate, RenewalPolicy
from certificates.issuance.models import Job
from certificates.issuance.services import jobs
from certificates.issuance.services.acme_cleanup import discard_abandoned_orders
from certificates.issuance.services.approvals import expire_stale
from certificates.issuance.services.certificate_status import NOT_RENEWABLE
from certificates.issuance.services.failures import fail_issuing_job
from certificates.issuance.services.issuance import (
    IssuanceError,
    IssueOutcome,
    IssueRequest,
    IssuerFailed,
    issue_from_csr,
    issue_many,
)
from certificates.issuance.services.keygen import generate_key_and_csr

logger = logging.getLogger(__name__)

SYSTEM = {"actor": "system", "actor_type": "System"}
SERVER_TYPES = (JobType.ISSUANCE, JobType.RENEWAL, JobType.VALIDATION)


@dataclass
class SweepResult:
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    handed_to_agent: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    approvals_expired: int = 0
    acme_orders_abandoned: int = 0
    claimed: int = 0

    def add(self, other: SweepResult) -> None:
        for name in ("completed", "failed", "handed_to_agent", "retried", "timed_out"):
            getattr(self, name).extend(getattr(other, name))
        self.approvals_expired += other.approvals_expired
        self.acme_orders_abandoned += other.acme_orders_abandoned
        self.claimed += other.claimed


def _claim(now: datetime, batch_size: int, result: SweepResult) -> list[Job]:
    """Pending server jobs due now: agent-mode issuance goes to AwaitingCSR, the rest to Running (returned)."""
    running = []
    with transaction.atomic():
        batch = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.PENDING, type__in=SERVER_TYPES, scheduled_at__lte=now)
            .order_by("scheduled_at", "pk")[:batch_size]
        )
        result.claimed += len(batch)
        for job in batch:
            if job.type in jobs.ISSUING_TYPES and settings.KEYGEN_MODE == "agent":
                jobs.transition(job, JobStatus.AWAITING_CSR, now=now, **SYSTEM)
                result.handed_to_agent.append(job.pk)
                continue
            jobs.transition(job, JobStatus.RUNNING, now=now, **SYSTEM)
            running.append(job)
    return running


def _run_claimed(running: list[Job], now: datetime, result: SweepResult) -> None:
    """Issue the claimed jobs' certificates (server keygen): a key and CSR each, then `issue_many`, which
    writes up to a few hundred issuances per transaction."""
    certificates = (
        ManagedCertificate.objects.select_related("issuer", "profile", "owner", "renewal_policy")
        .prefetch_related("targets")
        .in_bulk([job.certificate_id for job in running])
    )
    requests = []
    for job in running:
        if job.type == JobType.VALIDATION:
            jobs.transition(
                job, JobStatus.FAILED, error="validation jobs are not implemented", now=now, **SYSTEM
            )
            result.failed.append(job.pk)
            continue
        certificate = certificates.get(job.certificate_id)
        if certificate is None:  # deleted since the claim, and its jobs with it
            continue
        if certificate.status in NOT_RENEWABLE:
            jobs.transition(
                job, JobStatus.CANCELLED, error=f"certificate is {certificate.status}", now=now, **SYSTEM
            )
            continue
        try:
            key_pem, csr_pem = generate_key_and_csr(certificate)
        except IssuanceError as exc:
            fail_issuing_job(job, str(exc), now=now, **SYSTEM)
            result.failed.append(job.pk)
            continue
        requests.append(IssueRequest(certificate, csr_pem, job=job, server_key_pem=key_pem))
    try:
        outcomes = issue_many(requests, now=now, **SYSTEM)
    except Exception:  # a bug must not leave the jobs Running: settle each one on its own
        logger.exception("batch issuance crashed; issuing the jobs one by one")
        outcomes = [_issue_one(request, now) for request in requests]
    for outcome in outcomes:
        _settle(outcome, now, result)


def _issue_one(request: IssueRequest, now: datetime) -> IssueOutcome:
    outcome = IssueOutcome(request)
    try:
        outcome.version = issue_from_csr(
            request.certificate,
            request.csr_pem,
            job=request.job,
            now=now,
            server_key_pem=request.server_key_pem,
            **SYSTEM,
        )
    except Exception as exc:  # classified by _settle
        outcome.error = exc
    return outcome


def _settle(outcome: IssueOutcome, now: datetime, result: SweepResult) -> None:
    job, error = outcome.request.job, outcome.error
    if error is None:
        result.completed.append(job.pk)
    elif isinstance(error, IssuerFailed):
        result.failed.append(job.pk)  # issuance already failed the job and notified
    elif isinstance(error, jobs.InvalidTransition):
        logger.info("job moved by someone else while running", extra={"job_id": job.pk, "reason": str(error)})
    else:
        if isinstance(error, IssuanceError):
            message = str(error)
        else:
            logger.error("job execution crashed", extra={"job_id": job.pk}, exc_info=error)
            message = f"internal error ({type(error).__name__})"
        fail_issuing_job(job, message, now=now, **SYSTEM)
        result.failed.append(job.pk)


def process_pending(*, now: datetime | None = None, batch_size: int | None = None) -> SweepResult:
    """Claim and run one batch of due Pending jobs."""
    now = now or timezone.now()
    result = SweepResult()
    running = _claim(now, batch_size or settings.JOB_PROCESSOR_BATCH_SIZE, result)
    if running:
        _run_claimed(running, now, result)
    return result


def drain_pending(*, budget_seconds: float | None = None, batch_size: int | None = None) -> SweepResult:
    """Batch after batch until fewer than a full batch is due or `budget_seconds` (default: the processor's
    interval, CERTCTL_JOB_PROCESSOR_INTERVAL) has passed: what the beat task runs, so a renewal wave of
    thousands of jobs is issued in one run instead of one batch per interval. Other workers draining at the
    same time take other rows (SKIP LOCKED)."""
    batch_size = batch_size or settings.JOB_PROCESSOR_BATCH_SIZE
    deadline = time.monotonic() + (
        budget_seconds if budget_seconds is not None else settings.JOB_PROCESSOR_INTERVAL
    )
    total = SweepResult()
    while True:
        result = process_pending(batch_size=batch_size)
        total.add(result)
        if result.claimed < batch_size or time.monotonic() >= deadline:
            return total


def retry_failed(*, now: datetime | None = None, batch_size: int = 500) -> SweepResult:
    """Failed jobs with attempts left go back to Pending once their policy's retry interval has passed and,
    when the CA asked for a longer wait (Retry-After, kept in the failed job's `scheduled_at`), that too."""
    now = now or timezone.now()
    result = SweepResult()
    for policy in RenewalPolicy.objects.only("id", "retry_interval_seconds"):
        cutoff = now - timedelta(seconds=policy.retry_interval_seconds)
        with transaction.atomic():
            batch = list(
                Job.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    status=JobStatus.FAILED,
                    certificate__renewal_policy=policy,
                    completed_at__lte=cutoff,
                    scheduled_at__lte=now,
                    attempts__lt=F("max_attempts"),
                )
                .order_by("completed_at")[:batch_size]
            )
            for job in batch:
                _retry_one(job, now, result)
    return result


def _retry_one(job: Job, now: datetime, result: SweepResult) -> None:
    try:
        with transaction.atomic():
            jobs.transition(job, JobStatus.PENDING, now=now, **SYSTEM)
            if job.type in jobs.ISSUING_TYPES:
                ManagedCertificate.objects.filter(pk=job.certificate_id).exclude(
                    status__in=NOT_RENEWABLE
                ).update(status=CertificateStatus.RENEWAL_IN_PROGRESS, updated_at=now)
    except IntegrityError:
        # A newer issuance/renewal job is already open for the certificate: this one is superseded.
        job.refresh_from_db()
        jobs.transition(job, JobStatus.CANCELLED, error="superseded by a newer open job", now=now, **SYSTEM)
        return
    result.retried.append(job.pk)


def reap_timeouts(*, now: datetime | None = None, batch_size: int = 500) -> SweepResult:
    """AwaitingCSR past CERTCTL_JOB_AWAITING_CSR_TIMEOUT and server jobs Running past their lease fail;
    approval requests past CERTCTL_JOB_AWAITING_APPROVAL_TIMEOUT expire (their jobs are Cancelled); ACME orders
    no job will resume are closed and their challenge answers deleted (`acme_cleanup`)."""
    now = now or timezone.now()
    result = SweepResult()
    csr_cutoff = now - timedelta(seconds=settings.JOB_AWAITING_CSR_TIMEOUT)
    lease_cutoff = now - timedelta(seconds=settings.JOB_RUNNING_LEASE)
    with transaction.atomic():
        waiting = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.AWAITING_CSR, updated_at__lte=csr_cutoff)
            .order_by("updated_at")[:batch_size]
        )
        for job in waiting:
            age_hours = round((now - job.updated_at).total_seconds() / 3600, 1)
            fail_issuing_job(
                job,
                f"no CSR was submitted within {settings.JOB_AWAITING_CSR_TIMEOUT / 3600:g} h",
                now=now,
                audit_action="job_timeout",
                details={"timeout_reason": "csr_timeout", "age_hours": age_hours},
                **SYSTEM,
            )
            result.timed_out.append(job.pk)
        stuck = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(
                status=JobStatus.RUNNING,
                type__in=SERVER_TYPES,
                agent__isnull=True,
                started_at__lte=lease_cutoff,
            )
            .order_by("started_at")[:batch_size]
        )
        for job in stuck:
            message = "the worker running this job stopped before finishing"
            if job.type in jobs.ISSUING_TYPES:
                fail_issuing_job(job, message, now=now, audit_action="job_timeout", **SYSTEM)
            else:
                jobs.transition(
                    job, JobStatus.FAILED, error=message, now=now, audit_action="job_timeout", **SYSTEM
                )
            result.timed_out.append(job.pk)
    result.approvals_expired = expire_stale(now=now, batch_size=batch_size)
    result.acme_orders_abandoned = discard_abandoned_orders(now=now, batch_size=batch_size)
    return result
