"""Issuing a certificate from a CSR: check it, sign it with the certificate's issuer, record the new version.

`issue_from_csr` is the one path every producer uses (direct API issuance, the agent CSR endpoint, the job
processor in server-keygen mode), so the checks, the bookkeeping and the notifications are the same everywhere.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services.record import new_event as new_audit_event
from certctl import counters, rows
from certctl.crypto import encrypt_bytes
from certificates.enums import ApprovalState, CertificateStatus, JobStatus, JobType
from certificates.issuers.base import IssuedCertificate, IssuerError, LeafRequest, backend_for
from certificates.models import Agent, ApprovalRequest, CertificateVersion, Job, ManagedCertificate
from certificates.server_keys import ServerGeneratedKey
from certificates.services import jobs
from certificates.services.csr_policy import (
    CSRInvalid,
    IssuanceError,
    LeafPlan,
    ProfileViolation,
    parse_csr,
    plan_leaf,
)
from notifications.enums import Channel, NotificationType
from notifications.services import outbox

__all__ = [
    "ApprovalRequired",
    "CSRInvalid",
    "CertificateNotIssuable",
    "IssuanceError",
    "IssueOutcome",
    "IssueRequest",
    "IssuerFailed",
    "ProfileViolation",
    "issue_from_csr",
    "issue_many",
]

logger = logging.getLogger(__name__)

NOT_ISSUABLE = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)
ISSUANCE_COUNTER = "certctl_issuance_total"
# Counted in memory and written in batches: one UPSERT per issuance cost ~0.4 ms and a round trip.
issuance_counter = counters.BufferedCounter(ISSUANCE_COUNTER)
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
        )
    )


@dataclass
class IssueRequest:
    """One certificate to issue from a CSR (and, in server keygen mode, the key to store with it)."""

    certificate: ManagedCertificate
    csr_pem: str
    job: Job | None = None
    server_key_pem: str | None = None
    # The agent whose CSR this is: it takes the (unassigned) job with the job's move to Running, so a CSR that
    # is refused leaves the job as it was.
    agent: Agent | None = None


@dataclass
class IssueOutcome:
    request: IssueRequest
    version: CertificateVersion | None = None
    error: Exception | None = None  # IssuanceError (nothing written, or the job failed) or InvalidTransition


@dataclass
class _Signed:
    request: IssueRequest
    version: CertificateVersion
    error: Exception | None = None  # the database refused its write (issue_many)


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
        _restored_if_refused([signed]),
        transaction.atomic() if job is not None else contextlib.nullcontext(),
    ):
        if job is not None and job.status != JobStatus.RUNNING:
            jobs.transition(job, JobStatus.RUNNING, actor=actor, actor_type=actor_type, now=now, agent=agent)
        _record([signed], actor, actor_type, now, strict=True)
    return signed.version


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
    signed: list[_Signed] = []
    for outcome in outcomes:
        job = outcome.request.job
        if job is not None and job.status not in _ISSUABLE_JOB_STATES:
            outcome.error = jobs.InvalidTransition(job, job.status, JobStatus.COMPLETED)
            continue
        try:
            signed.append(_check_and_sign(outcome.request, actor, actor_type, now))
        except IssuanceError as exc:
            outcome.error = exc
    written: list[_Signed] = []
    for start in range(0, len(signed), WRITE_BATCH):
        batch = signed[start : start + WRITE_BATCH]
        # Counted as written once committed: a deferred foreign key refuses a transaction only at COMMIT.
        try:
            with _restored_if_refused(batch), transaction.atomic():
                started, moves = _started(batch, actor, actor_type, now)
                recorded = _record(started, actor, actor_type, now, strict=False, audit=moves)
            written += recorded
        except DatabaseError:
            logger.warning("an issuance batch was refused; writing it one by one", exc_info=True)
            for one in batch:
                try:
                    with _restored_if_refused([one]), transaction.atomic():
                        started, moves = _started([one], actor, actor_type, now)
                        recorded = _record(started, actor, actor_type, now, strict=False, audit=moves)
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
    batch: list[_Signed], actor: str, actor_type: str, now: datetime
) -> tuple[list[_Signed], list[AuditEvent]]:
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


@contextlib.contextmanager
def _restored_if_refused(batch: list[_Signed]) -> Iterator[None]:
    """_record (and a job's move to Running) change the caller's jobs and certificates in memory; when the
    transaction is refused (as late as COMMIT, for a foreign key) put them back, so a retry, or the caller failing
    the job, sees them as they are in the database."""
    saved = [
        (obj, {name: getattr(obj, name) for name in names})
        for one in batch
        for obj, names in ((one.request.job, _JOB_FIELDS), (one.request.certificate, _CERTIFICATE_FIELDS))
        if obj is not None
    ]
    try:
        yield
    except DatabaseError:
        for obj, values in saved:
            for name, value in values.items():
                setattr(obj, name, value)
        raise


_JOB_FIELDS = ("status", "attempts", "started_at", "updated_at", "completed_at", "last_error", "agent_id")
_CERTIFICATE_FIELDS = ("status", "expires_at", "last_renewal_at", "updated_at")


def _check_and_sign(request: IssueRequest, actor: str, actor_type: str, now: datetime) -> _Signed:
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
    try:
        issued = sign_planned_leaf(certificate, csr, plan, now)
    except IssuerError as exc:
        issuance_counter.increment({"issuer_type": issuer.type, "outcome": "failure"})
        message = f"issuer {issuer.name} could not sign: {exc}"
        if job is not None:
            from certificates.services.renewal import fail_issuing_job

            fail_issuing_job(job, message, actor=actor, actor_type=actor_type, now=now)
        raise IssuerFailed(message) from exc
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
    return _Signed(request, version)


def _record(
    signed: list[_Signed],
    actor: str,
    actor_type: str,
    now: datetime,
    *,
    strict: bool,
    audit: Sequence[AuditEvent] = (),
) -> list[_Signed]:
    """Write what `signed` issued, in the caller's transaction (or as one autocommitted statement when no job
    is involved): jobs Completed, versions, server keys, deployment jobs, certificates Active, RenewalSuccess
    rows and audit rows. Returns what was written: all of it, or without the issuances whose job moved
    meanwhile when not `strict` (when `strict`, that raises InvalidTransition)."""
    running = [one.request.job for one in signed if one.request.job is not None]
    completed, new_rows = jobs.complete_running(
        running, actor=actor, actor_type=actor_type, now=now, strict=strict
    )
    new_rows = [*audit, *new_rows]  # earlier moves of the same jobs (to Running) first
    if len(completed) != len(running):
        kept = {job.pk for job in completed}
        signed = [one for one in signed if one.request.job is None or one.request.job.pk in kept]
    if not signed:
        return []
    events = []
    for one in signed:
        certificate, version, job = one.request.certificate, one.version, one.request.job
        new_rows.append(version)
        if one.request.server_key_pem:
            new_rows.append(
                ServerGeneratedKey(
                    version=version, encrypted_private_key=encrypt_bytes(one.request.server_key_pem.encode())
                )
            )
        deployments = _deployment_jobs(certificate, now)
        new_rows += deployments
        event = outbox.new_event(
            type=NotificationType.RENEWAL_SUCCESS,
            channel=Channel.EMAIL,
            recipient=certificate.owner.email,
            subject=f"Certificate {certificate.common_name} issued",
            message=(
                f"Certificate {certificate.name} ({certificate.common_name}) was issued by "
                f"{certificate.issuer.name}: serial {version.serial_number}, valid until "
                f"{version.not_after:%Y-%m-%d}."
            ),
            certificate_id=certificate.pk,
        )
        events.append(event)
        new_rows.append(event)
        new_rows.append(
            new_audit_event(
                "certificate_issued",
                resource_type="certificate",
                resource_id=certificate.pk,
                actor=actor,
                actor_type=actor_type,
                details={
                    "version_id": version.pk,
                    "serial": version.serial_number,
                    "fingerprint_sha256": version.fingerprint_sha256,
                    "issuer_id": certificate.issuer_id,
                    "not_after": version.not_after.isoformat(),
                    "job_id": job.pk if job else None,
                    "deployment_job_ids": [d.pk for d in deployments],
                },
                now=now,
            )
        )
    rows.write(new_rows, postgres_updates=_activate([one.version for one in signed], now))
    for one in signed:
        certificate = one.request.certificate
        certificate.status = CertificateStatus.ACTIVE
        certificate.expires_at = one.version.not_after
        certificate.last_renewal_at = certificate.updated_at = now
    outbox.schedule_delivery([event.id for event in events])
    by_type = Counter(one.request.certificate.issuer.type for one in signed)
    transaction.on_commit(lambda: _count_success(by_type))
    for one in signed:
        logger.info(
            "certificate issued",
            extra={
                "certificate_id": one.request.certificate.pk,
                "serial": one.version.serial_number,
                "job_id": one.request.job.pk if one.request.job else None,
            },
        )
    return signed


def _count_success(by_type: Counter) -> None:
    for issuer_type, count in by_type.items():
        issuance_counter.increment({"issuer_type": issuer_type, "outcome": "success"}, count)


def _activate(versions: list[CertificateVersion], now: datetime) -> list[rows.Statement]:
    """Each certificate's new current state (Active, expiry, last renewal): a CTE of the write on PostgreSQL;
    elsewhere updated here, in the caller's transaction."""
    if connection.vendor != "postgresql":
        for version in versions:
            ManagedCertificate.objects.filter(pk=version.certificate_id).update(
                status=CertificateStatus.ACTIVE,
                expires_at=version.not_after,
                last_renewal_at=now,
                updated_at=now,
            )
        return []
    if len(versions) == 1:  # the common case keeps a plan PostgreSQL can cache (unnest's estimate cannot)
        (version,) = versions
        return [
            (
                _activate_sql(False),
                (CertificateStatus.ACTIVE, now, now, version.not_after, version.certificate_id),
            )
        ]
    ids = [version.certificate_id for version in versions]
    expiries = [version.not_after for version in versions]
    return [(_activate_sql(True), (CertificateStatus.ACTIVE, now, now, ids, expiries))]


@functools.cache
def _activate_sql(many: bool) -> str:
    qn = connection.ops.quote_name
    cert = ManagedCertificate._meta
    status, renewed, updated, expires = (
        qn(cert.get_field(name).column) for name in ("status", "last_renewal_at", "updated_at", "expires_at")
    )
    table, pk = qn(cert.db_table), qn(cert.pk.column)
    if not many:
        return f"UPDATE {table} SET {status} = %s, {renewed} = %s, {updated} = %s, {expires} = %s WHERE {pk} = %s"  # noqa: S608 - names from our models
    return (
        f"UPDATE {table} AS c SET {status} = %s, {renewed} = %s, {updated} = %s, {expires} = v.expires_at "  # noqa: S608
        f"FROM unnest(%b::varchar[], %b::timestamptz[]) AS v(id, expires_at) WHERE c.{pk} = v.id"
    )


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


def _deployment_jobs(certificate: ManagedCertificate, now: datetime) -> list[Job]:
    """Unsaved: one Pending Deployment job per enabled, live target the certificate is mapped to, owned by its agent."""
    # Callers issuing many prefetch; the prefetched (evaluated) queryset is read as it is: `.all()` would clone it.
    prefetched = getattr(certificate, "_prefetched_objects_cache", {}).get("targets")
    if prefetched is not None:
        targets = [t for t in prefetched if t.enabled and t.retired_at is None]
    else:
        targets = certificate.targets.filter(enabled=True, retired_at__isnull=True).only("id", "agent_id")
    return [
        Job(
            type=JobType.DEPLOYMENT,
            certificate=certificate,
            target_id=target.pk,
            agent_id=target.agent_id,
            status=JobStatus.PENDING,
            scheduled_at=now,
            max_attempts=certificate.renewal_policy.max_retries or 1,
        )
        for target in targets
    ]
