"""Issuing a certificate from a CSR: check it, sign it with the certificate's issuer, record the new version.

`issue_from_csr` is the one path every producer uses (direct API issuance, the agent CSR endpoint, the job
processor in server-keygen mode), so the checks, the bookkeeping and the notifications are the same everywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from certificates.enums import ApprovalState, CertificateStatus, JobStatus
from certificates.inventory.models import Agent, CertificateVersion, ManagedCertificate
from certificates.issuance.issuers.base import IssuedCertificate, IssuerError, LeafRequest
from certificates.issuance.issuers.registry import backend_for
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services import jobs
from certificates.issuance.services.csr_policy import (
    CSRInvalid,
    IssuanceError,
    LeafPlan,
    ProfileViolation,
    parse_csr,
    plan_leaf,
)
from certificates.issuance.services.failures import fail_issuing_job
from certificates.issuance.services.recording import (
    IssueRequest,
    Signed,
    issuance_counter,
    issuance_failures,
    issuance_seconds,
    record_issued,
    restored_if_refused,
)

__all__ = [
    "ApprovalRequired",
    "CSRInvalid",
    "CertificateNotIssuable",
    "IssuanceError",
    "IssueOutcome",
    "IssueRequest",
    "IssuerFailed",
    "ProfileViolation",
    "issue_for_certificate",
    "issue_from_csr",
    "issue_many",
]

logger = logging.getLogger(__name__)

NOT_ISSUABLE = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)
# issue_many writes this many issuances per transaction and statement (about 40 parameters each).
WRITE_BATCH = 200


class CertificateNotIssuable(IssuanceError):
    code = "not_issuable"


class ApprovalRequired(IssuanceError):
    """The profile requires approval and this issuance has no approved job (API 409)."""

    code = "approval_required"


class IssuerFailed(IssuanceError):
    """The issuer could not sign; the job (if any) is Failed and RenewalFailure is queued."""

    code = "issuer_failed"


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def sign_planned_leaf(
    certificate: ManagedCertificate, csr: x509.CertificateSigningRequest, plan: LeafPlan, now: datetime
) -> IssuedCertificate:
    """Sign a checked CSR with the certificate's issuer (no database writes); raises IssuerError."""
    return backend_for(certificate.issuer).issue(
        LeafRequest(
            csr=csr,
            subject=plan.subject,
            dns_names=plan.dns_names,
            ip_addresses=plan.ip_addresses,
            emails=plan.emails,
            ekus=plan.ekus,
            must_staple=plan.must_staple,
            validity=plan.validity,
            now=now,
            certificate_id=certificate.pk,
        )
    )


@dataclass
class IssueOutcome:
    request: IssueRequest
    version: CertificateVersion | None = None
    error: Exception | None = None  # IssuanceError (nothing written, or the job failed) or InvalidTransition


def issue_from_csr(
    certificate: ManagedCertificate,
    csr_pem: str,
    *,
    actor: str,
    actor_type: str = "User",
    job: Job | None = None,
    now: datetime | None = None,
    server_key_pem: str | None = None,
    agent: Agent | None = None,
) -> CertificateVersion:
    """Verify the CSR, check it against the profile, sign it and record the result atomically.

    On success: a CertificateVersion (serial as lower-case hex, SHA-256 fingerprint, leaf-first chain, CSR), the
    certificate Active with the new expiry and `last_renewal_at`, `job` Completed, one Deployment job per mapped
    target, a RenewalSuccess notification and the audit rows. CSR and profile problems raise CSRInvalid /
    ProfileViolation and change nothing (an agent may resubmit); a signing failure raises IssuerFailed and,
    when a job is given, fails it, sets the certificate to Failed and queues RenewalFailure. `server_key_pem`
    (server keygen mode) is stored encrypted next to the version. `agent` (whose CSR this is) takes the job
    as it moves to Running, in the write's transaction.
    """
    now = now or timezone.now()
    signed = _check_and_sign(
        IssueRequest(certificate, csr_pem, job, server_key_pem, agent), actor, actor_type, now
    )
    # A job's transitions need a transaction around the write; without a job the write is a single statement
    # on PostgreSQL, atomic on its own: no BEGIN/COMMIT round trips.
    with (
        restored_if_refused([signed]),
        transaction.atomic() if job is not None else contextlib.nullcontext(),
    ):
        if job is not None and job.status != JobStatus.RUNNING:
            jobs.transition(job, JobStatus.RUNNING, actor=actor, actor_type=actor_type, now=now, agent=agent)
        record_issued([signed], actor, actor_type, now, strict=True)
    return signed.version


def issue_for_certificate(
    certificate: ManagedCertificate, csr_pem: str, *, actor: str, actor_type: str = "User"
) -> CertificateVersion:
    """An operator's CSR for a certificate (`POST /certificates/{id}/issue`, the admin's "Issue from CSR"): it
    completes the newest issuance or renewal job waiting for a CSR, if there is one, else issues on its own."""
    job = (
        Job.objects.filter(
            certificate=certificate,
            type__in=jobs.ISSUING_TYPES,
            status__in=(JobStatus.AWAITING_CSR, JobStatus.PENDING),
        )
        .order_by("-created_at")
        .first()
    )
    return issue_from_csr(certificate, csr_pem, actor=actor, actor_type=actor_type, job=job)


def issue_many(
    requests: list[IssueRequest], *, actor: str, actor_type: str = "System", now: datetime | None = None
) -> list[IssueOutcome]:
    """`issue_from_csr` for many certificates: the same checks, rows and notifications per certificate, with
    the writes of up to WRITE_BATCH issuances in one transaction and one statement.

    For producers that issue many at once: the job processor in server keygen mode (its jobs are Running,
    claimed) and agents submitting many CSRs (their jobs are AwaitingCSR: like issue_from_csr, the checks come
    first and change nothing, then the job moves to Running in the write's transaction). One outcome per
    request, in order: a request that fails its checks or its signing carries the error issue_from_csr would
    have raised (its job failed likewise); a request whose job was moved by someone else meanwhile carries
    InvalidTransition and is not issued. If the database refuses a batch, its issuances are retried one by one,
    so one bad row cannot sink the others.
    """
    now = now or timezone.now()
    outcomes = [IssueOutcome(request) for request in requests]
    signed: list[Signed] = []
    for outcome in outcomes:
        job = outcome.request.job
        if job is not None and job.status not in _ISSUABLE_JOB_STATES:
            outcome.error = jobs.InvalidTransition(job, job.status, JobStatus.COMPLETED)
            continue
        try:
            signed.append(_check_and_sign(outcome.request, actor, actor_type, now))
        except IssuanceError as exc:
            outcome.error = exc
    written: list[Signed] = []
    for start in range(0, len(signed), WRITE_BATCH):
        batch = signed[start : start + WRITE_BATCH]
        # Counted as written once committed: a deferred foreign key refuses a transaction only at COMMIT.
        try:
            with restored_if_refused(batch), transaction.atomic():
                started, moves = _started(batch, actor, actor_type, now)
                recorded = record_issued(started, actor, actor_type, now, strict=False, audit=moves)
            written += recorded
        except DatabaseError:
            logger.warning("an issuance batch was refused; writing it one by one", exc_info=True)
            for one in batch:
                try:
                    with restored_if_refused([one]), transaction.atomic():
                        started, moves = _started([one], actor, actor_type, now)
                        recorded = record_issued(started, actor, actor_type, now, strict=False, audit=moves)
                    written += recorded
                except DatabaseError as exc:
                    one.error = exc
    versions = {id(one.request): one.version for one in written}
    errors = {id(one.request): one.error for one in signed if one.error is not None}
    for outcome in outcomes:
        key = id(outcome.request)
        if outcome.error is not None:
            continue
        if key in versions:
            outcome.version = versions[key]
        elif key in errors:
            outcome.error = errors[key]
        else:  # its job moved meanwhile
            job = outcome.request.job
            outcome.error = jobs.InvalidTransition(
                job, JobStatus.RUNNING, JobStatus.COMPLETED, f"job {job.pk} changed concurrently"
            )
    return outcomes


_ISSUABLE_JOB_STATES = (JobStatus.PENDING, JobStatus.AWAITING_CSR, JobStatus.RUNNING)


def _started(
    batch: list[Signed], actor: str, actor_type: str, now: datetime
) -> tuple[list[Signed], list[AuditEvent]]:
    """Move the batch's waiting jobs (Pending, AwaitingCSR) to Running in the caller's transaction, as
    issue_from_csr does, in one statement per taking agent (usually one); one moved by someone else (or taken by
    another agent) meanwhile gets InvalidTransition and is left out. Returns what may be written and the moves'
    unsaved audit rows."""
    by_agent: dict[str | None, tuple[Agent | None, list[Job]]] = {}
    for one in batch:
        job, agent = one.request.job, one.request.agent
        if job is not None and job.status != JobStatus.RUNNING:
            by_agent.setdefault(agent.pk if agent else None, (agent, []))[1].append(job)
    moved_ids: set[str] = set()
    events: list[AuditEvent] = []
    for agent, waiting in by_agent.values():
        moved, moves = jobs.start_waiting(waiting, actor=actor, actor_type=actor_type, now=now, agent=agent)
        moved_ids.update(job.pk for job in moved)
        events += moves
    started = []
    for one in batch:
        job = one.request.job
        if job is not None and job.status != JobStatus.RUNNING and job.pk not in moved_ids:
            one.error = jobs.InvalidTransition(
                job, job.status, JobStatus.RUNNING, f"job {job.pk} changed concurrently; cannot start it"
            )
            continue
        started.append(one)
    return started, events


def _error_class(exc: IssuanceError) -> str:
    """The reference's `error_class` of a failed issuance: a refusal by certctl's own checks (CSR, profile,
    approval, a certificate or issuer that cannot issue) is `validation`; an issuer error is `timeout` or
    `network` when a socket error caused it, else `other`."""
    if not isinstance(exc, IssuerFailed):
        return "validation"
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return "timeout"
        if isinstance(cause, ConnectionError):
            return "network"
        cause = cause.__cause__
    return "other"


def _check_and_sign(request: IssueRequest, actor: str, actor_type: str, now: datetime) -> Signed:
    """`_checked_and_signed`, counting a refusal or failure in certctl_issuance_failures_total."""
    try:
        return _checked_and_signed(request, actor, actor_type, now)
    except IssuanceError as exc:
        issuer_type = request.certificate.issuer.type
        issuance_failures.increment({"issuer_type": issuer_type, "error_class": _error_class(exc)})
        raise


def _checked_and_signed(request: IssueRequest, actor: str, actor_type: str, now: datetime) -> Signed:
    """Everything before the write: certificate, issuer, job and approval checks, the CSR and profile checks,
    and the signature. Raises IssuanceError (IssuerFailed after failing the job, if any)."""
    certificate, job = request.certificate, request.job
    if certificate.status in NOT_ISSUABLE:
        raise CertificateNotIssuable(
            f"certificate {certificate.pk} is {certificate.status} and cannot be issued"
        )
    issuer = certificate.issuer
    if not issuer.enabled:
        raise CertificateNotIssuable(f"issuer {issuer.name!r} is disabled")
    if job is not None and job.status not in _ISSUABLE_JOB_STATES:
        raise jobs.InvalidTransition(job, job.status, JobStatus.COMPLETED, f"job {job.pk} is {job.status}")
    _check_approval(certificate, job)
    csr = parse_csr(request.csr_pem)
    plan = plan_leaf(certificate, csr)
    started = time.perf_counter()
    try:
        issued = sign_planned_leaf(certificate, csr, plan, now)
    except IssuerError as exc:
        issuance_counter.increment({"issuer_type": issuer.type, "outcome": "failure"})
        message = f"issuer {issuer.name} could not sign: {exc}"
        if job is not None:
            fail_issuing_job(
                job, message, actor=actor, actor_type=actor_type, now=now, retry_after=exc.retry_after
            )
        raise IssuerFailed(message) from exc
    issuance_seconds.observe({"issuer_type": issuer.type}, time.perf_counter() - started)
    leaf = issued.certificate
    version = CertificateVersion(
        certificate=certificate,
        issuer=issuer,
        serial_number=issued.serial_hex,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=_fingerprint(leaf.public_bytes(serialization.Encoding.DER)),
        pem_chain=issued.pem_chain,
        csr_pem=request.csr_pem.strip() + "\n",
        key_algorithm=plan.key_algorithm,
        key_size=plan.key_size,
    )
    return Signed(request, version)


def _check_approval(certificate: ManagedCertificate, job: Job | None) -> None:
    """A gated profile issues only for a job whose approval request was approved (or bypassed)."""
    profile = certificate.profile
    if profile is None or not profile.requires_approval:
        return
    if job is not None and ApprovalRequest.objects.filter(job=job, state=ApprovalState.APPROVED).exists():
        return
    raise ApprovalRequired(
        f"profile {profile.name!r} requires approval: request a renewal and have it approved before issuing"
    )
