"""Opening renewal/issuance jobs (manual, bulk and the periodic window check) and settling their outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.services.record import record
from certificates.enums import CertificateStatus, JobStatus, JobType
from certificates.inventory.models import ManagedCertificate, RenewalPolicy
from certificates.issuance.issuers.registry import registered_types
from certificates.issuance.models import Job
from certificates.issuance.services import jobs
from certificates.issuance.services.approvals import close_pending_for_job, open_request
from certificates.issuance.services.certificate_status import NOT_RENEWABLE, set_status

logger = logging.getLogger(__name__)

LOOP_STATUSES = (CertificateStatus.ACTIVE, CertificateStatus.EXPIRING)


class RenewalRefused(Exception):
    """The certificate cannot be renewed in its state (API 400)."""


class RenewalAlreadyOpen(Exception):
    """An issuance or renewal job is already open for the certificate (API 409 unless forced)."""

    def __init__(self, certificate: ManagedCertificate, job: Job | None) -> None:
        self.job = job
        suffix = f" ({job.pk}, {job.status})" if job else ""
        super().__init__(
            f"certificate {certificate.pk} already has an open renewal job{suffix}; use force to replace it"
        )


def _initial_status(certificate: ManagedCertificate, manual: bool) -> str:
    profile = certificate.profile
    if profile is not None and profile.requires_approval and not settings.APPROVAL_BYPASS:
        return JobStatus.AWAITING_APPROVAL
    if manual and settings.KEYGEN_MODE == "agent":
        return JobStatus.AWAITING_CSR
    return JobStatus.PENDING


def open_issuing_job(
    certificate: ManagedCertificate,
    *,
    actor: str,
    actor_type: str,
    now: datetime,
    manual: bool,
    audit_action: str,
    audit_details: dict | None = None,
) -> Job:
    """Create the certificate's one open Issuance/Renewal job, approval gate applied; RenewalAlreadyOpen if one exists.

    The partial unique index `job_one_open_issuance_per_cert` decides, so concurrent callers cannot both succeed.
    """
    status = _initial_status(certificate, manual)
    job_type = JobType.ISSUANCE if certificate.expires_at is None else JobType.RENEWAL
    try:
        with transaction.atomic():
            job = Job.objects.create(
                type=job_type,
                certificate=certificate,
                status=status,
                scheduled_at=now,
                max_attempts=max(1, certificate.renewal_policy.max_retries),
            )
            set_status(certificate, CertificateStatus.RENEWAL_IN_PROGRESS, now)
            record(
                audit_action,
                resource_type="certificate",
                resource_id=certificate.pk,
                actor=actor,
                actor_type=actor_type,
                details={
                    "job_id": job.pk,
                    "job_type": job_type,
                    "job_status": status,
                    **(audit_details or {}),
                },
                now=now,
            )
            if certificate.profile is not None and certificate.profile.requires_approval:
                open_request(job, certificate, requested_by=actor, actor_type=actor_type, now=now)
    except IntegrityError as exc:
        existing = Job.objects.open().filter(certificate=certificate, type__in=jobs.ISSUING_TYPES).first()
        if existing is None:
            raise
        raise RenewalAlreadyOpen(certificate, existing) from exc
    return job


def request_renewal(
    certificate: ManagedCertificate, *, actor: str, actor_type: str = "User", force: bool = False, now=None
) -> Job:
    """Manual renewal (`POST /certificates/{id}/renew`): one open job; `force` cancels the open one first."""
    now = now or timezone.now()
    if certificate.status in NOT_RENEWABLE:
        raise RenewalRefused(f"cannot renew a {certificate.status.lower()} certificate")
    if certificate.issuer.type not in registered_types() or not certificate.issuer.enabled:
        raise RenewalRefused(
            f"issuer {certificate.issuer.name!r} cannot issue (disabled or unsupported type)"
        )
    with transaction.atomic():
        open_jobs = list(
            Job.objects.select_for_update()
            .open()
            .filter(certificate=certificate, type__in=jobs.ISSUING_TYPES)
        )
        if open_jobs and not force:
            raise RenewalAlreadyOpen(certificate, open_jobs[0])
        for job in open_jobs:
            _supersede(job, actor=actor, actor_type=actor_type, now=now)
        return open_issuing_job(
            certificate,
            actor=actor,
            actor_type=actor_type,
            now=now,
            manual=True,
            audit_action="renewal_triggered",
            audit_details={"force": force, "superseded_job_ids": [j.pk for j in open_jobs]},
        )


def _supersede(job: Job, *, actor: str, actor_type: str, now: datetime) -> None:
    if job.status == JobStatus.AWAITING_APPROVAL:
        close_pending_for_job(job, actor=actor, note="superseded by a forced renewal", now=now)
    jobs.transition(
        job,
        JobStatus.CANCELLED,
        actor=actor,
        actor_type=actor_type,
        error="superseded by a forced renewal",
        now=now,
    )


@dataclass
class RenewalCheckResult:
    examined: int = 0
    created: int = 0
    already_open: int = 0
    job_ids: list[str] = field(default_factory=list)


def run_renewal_check(*, now: datetime | None = None, batch_size: int = 500) -> RenewalCheckResult:
    """Create one Renewal job per auto-renewing certificate that is due (beat task).

    Due: Active/Expiring, issued by a usable issuer, no open Issuance/Renewal job, and either the moment its CA
    suggested through ARI (`ari_renew_at`) has passed or, without one, its expiry is within the policy's
    `renewal_window_days`. Safe under concurrent runs: the unique index lets one insert win.
    """
    now = now or timezone.now()
    result = RenewalCheckResult()
    open_job = Job.objects.open().filter(certificate=OuterRef("pk"), type__in=jobs.ISSUING_TYPES)
    candidates = ManagedCertificate.objects.filter(
        status__in=LOOP_STATUSES,
        expires_at__isnull=False,
        issuer__enabled=True,
        issuer__type__in=registered_types(),
    ).exclude(Exists(open_job))
    for policy in RenewalPolicy.objects.filter(auto_renew=True).only("id", "renewal_window_days"):
        in_window = candidates.filter(
            renewal_policy=policy,
            ari_renew_at__isnull=True,
            expires_at__lte=now + timedelta(days=policy.renewal_window_days),
        )
        _open_renewals(in_window, now, batch_size, result, via="renewal_policy")
    suggested = candidates.filter(renewal_policy__auto_renew=True, ari_renew_at__lte=now)
    _open_renewals(suggested, now, batch_size, result, via="ari")
    if result.created:
        logger.info(
            "renewal jobs created", extra={"jobs_created": result.created, "examined": result.examined}
        )
    return result


def _open_renewals(due, now: datetime, batch_size: int, result: RenewalCheckResult, *, via: str) -> None:
    due = due.select_related("profile", "renewal_policy").order_by("expires_at", "pk")
    for certificate in due.iterator(chunk_size=batch_size):
        result.examined += 1
        details = {
            "days_until_expiry": round((certificate.expires_at - now).total_seconds() / 86400, 2),
            "due_by": via,
        }
        if via == "ari":
            details["ari_renew_at"] = certificate.ari_renew_at.isoformat()
        try:
            job = open_issuing_job(
                certificate,
                actor="system",
                actor_type="System",
                now=now,
                manual=False,
                audit_action="renewal_job_created",
                audit_details=details,
            )
        except RenewalAlreadyOpen:
            result.already_open += 1
            continue
        result.created += 1
        result.job_ids.append(job.pk)
