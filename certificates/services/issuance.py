"""Issuing a certificate from a CSR: check it, sign it with the certificate's issuer, record the new version.

`issue_from_csr` is the one path every producer uses (direct API issuance, the agent CSR endpoint, the job
processor in server-keygen mode), so the checks, the bookkeeping and the notifications are the same everywhere.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import connection, transaction
from django.utils import timezone

from audit.services.record import record
from certctl import counters, rows
from certctl.crypto import encrypt_bytes
from certctl.pipeline import pipelined
from certificates.enums import ApprovalState, CertificateStatus, JobStatus, JobType
from certificates.issuers.base import IssuedCertificate, IssuerError, LeafRequest, backend_for
from certificates.models import ApprovalRequest, CertificateVersion, Job, ManagedCertificate
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
from notifications.services.outbox import enqueue

__all__ = [
    "ApprovalRequired",
    "CSRInvalid",
    "CertificateNotIssuable",
    "IssuanceError",
    "IssuerFailed",
    "ProfileViolation",
    "issue_from_csr",
]

logger = logging.getLogger(__name__)

NOT_ISSUABLE = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)
ISSUANCE_COUNTER = "certctl_issuance_total"
# Counted in memory and written in batches: one UPSERT per issuance cost ~0.4 ms and a round trip.
issuance_counter = counters.BufferedCounter(ISSUANCE_COUNTER)


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


def issue_from_csr(
    certificate: ManagedCertificate,
    csr_pem: str,
    *,
    actor: str,
    actor_type: str = "User",
    job: Job | None = None,
    now: datetime | None = None,
    server_key_pem: str | None = None,
) -> CertificateVersion:
    """Verify the CSR, check it against the profile, sign it and record the result in one transaction.

    On success: a CertificateVersion (serial as lower-case hex, SHA-256 fingerprint, leaf-first chain, CSR), the
    certificate Active with the new expiry and `last_renewal_at`, `job` Completed, one Deployment job per mapped
    target, a RenewalSuccess notification and the audit rows. CSR and profile problems raise CSRInvalid /
    ProfileViolation and change nothing (an agent may resubmit); a signing failure raises IssuerFailed and,
    when a job is given, fails it, sets the certificate to Failed and queues RenewalFailure. `server_key_pem` (server keygen mode)
    is stored encrypted next to the version.
    """
    now = now or timezone.now()
    if certificate.status in NOT_ISSUABLE:
        raise CertificateNotIssuable(
            f"certificate {certificate.pk} is {certificate.status} and cannot be issued"
        )
    issuer = certificate.issuer
    if not issuer.enabled:
        raise CertificateNotIssuable(f"issuer {issuer.name!r} is disabled")
    if job is not None and job.status not in (JobStatus.PENDING, JobStatus.AWAITING_CSR, JobStatus.RUNNING):
        raise jobs.InvalidTransition(job, job.status, JobStatus.COMPLETED, f"job {job.pk} is {job.status}")
    _check_approval(certificate, job)
    csr = parse_csr(csr_pem)
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
    der = leaf.public_bytes(serialization.Encoding.DER)
    with transaction.atomic():
        if job is not None:
            if job.status != JobStatus.RUNNING:
                jobs.transition(job, JobStatus.RUNNING, actor=actor, actor_type=actor_type, now=now)
            jobs.transition(
                job,
                JobStatus.COMPLETED,
                actor=actor,
                actor_type=actor_type,
                now=now,
                audit_action="renewal_job_completed" if job.type == JobType.RENEWAL else "job_completed",
            )
        # The writes below check no row counts: pipelined, they cost one round trip with BEGIN.
        with pipelined():
            version = CertificateVersion(
                certificate=certificate,
                issuer=issuer,
                serial_number=issued.serial_hex,
                not_before=leaf.not_valid_before_utc,
                not_after=leaf.not_valid_after_utc,
                fingerprint_sha256=_fingerprint(der),
                pem_chain=issued.pem_chain,
                csr_pem=csr_pem.strip() + "\n",
                key_algorithm=plan.key_algorithm,
                key_size=plan.key_size,
            )
            _store_version(version, now)
            if server_key_pem:
                ServerGeneratedKey.objects.create(
                    version=version, encrypted_private_key=encrypt_bytes(server_key_pem.encode())
                )
            certificate.status = CertificateStatus.ACTIVE
            certificate.expires_at = version.not_after
            certificate.last_renewal_at = now
            deployments = _create_deployment_jobs(certificate, now)
            enqueue(
                type=NotificationType.RENEWAL_SUCCESS,
                channel=Channel.EMAIL,
                recipient=certificate.owner.email,
                subject=f"Certificate {certificate.common_name} issued",
                message=(
                    f"Certificate {certificate.name} ({certificate.common_name}) was issued by {issuer.name}: serial "
                    f"{version.serial_number}, valid until {version.not_after:%Y-%m-%d}."
                ),
                certificate_id=certificate.pk,
            )
            record(
                "certificate_issued",
                resource_type="certificate",
                resource_id=certificate.pk,
                actor=actor,
                actor_type=actor_type,
                details={
                    "version_id": version.pk,
                    "serial": version.serial_number,
                    "fingerprint_sha256": version.fingerprint_sha256,
                    "issuer_id": issuer.pk,
                    "not_after": version.not_after.isoformat(),
                    "job_id": job.pk if job else None,
                    "deployment_job_ids": [d.pk for d in deployments],
                },
                now=now,
            )
        transaction.on_commit(
            lambda: issuance_counter.increment({"issuer_type": issuer.type, "outcome": "success"})
        )
    logger.info(
        "certificate issued",
        extra={
            "certificate_id": certificate.pk,
            "serial": version.serial_number,
            "job_id": job.pk if job else None,
        },
    )
    return version


def _store_version(version: CertificateVersion, now: datetime) -> None:
    """INSERT the version and make it the certificate's current state (Active, new expiry) in one statement."""
    if connection.vendor != "postgresql":  # SQLite (the zero-config default) has no data-modifying CTEs
        ManagedCertificate.objects.filter(pk=version.certificate_id).update(
            status=CertificateStatus.ACTIVE, expires_at=version.not_after, last_renewal_at=now, updated_at=now
        )
        rows.insert(version)
        return
    rows.insert(
        version,
        prefix_sql=_activate_sql(),
        prefix_params=(CertificateStatus.ACTIVE, version.not_after, now, now, version.certificate_id),
    )


@functools.cache
def _activate_sql() -> str:
    qn = connection.ops.quote_name
    cert = ManagedCertificate._meta
    columns = ("status", "expires_at", "last_renewal_at", "updated_at")
    assignments = ", ".join(f"{qn(cert.get_field(name).column)} = %s" for name in columns)
    return (
        f"WITH activated AS (UPDATE {qn(cert.db_table)} SET {assignments} WHERE {qn(cert.pk.column)} = %s) "  # noqa: S608 - names from our models
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


def _create_deployment_jobs(certificate: ManagedCertificate, now: datetime) -> list[Job]:
    """One Pending Deployment job per enabled, live target the certificate is mapped to, owned by its agent."""
    if "targets" in getattr(certificate, "_prefetched_objects_cache", {}):  # callers issuing many prefetch
        targets = [t for t in certificate.targets.all() if t.enabled and t.retired_at is None]
    else:
        targets = certificate.targets.filter(enabled=True, retired_at__isnull=True).only("id", "agent_id")
    deployments = [
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
    return Job.objects.bulk_create(deployments) if deployments else []
