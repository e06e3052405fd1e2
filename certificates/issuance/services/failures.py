"""A failed issuance or renewal attempt: job Failed, certificate Failed, the owner told, all audited.

When the CA said how long to wait (an ACME rate limit's Retry-After), the failed job's `scheduled_at` becomes the
earliest time the retry sweep may re-arm it (at most MAX_RETRY_AFTER_SECONDS away); otherwise only the renewal
policy's retry interval applies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from certificates.enums import CertificateStatus, JobStatus
from certificates.inventory.models import ManagedCertificate
from certificates.issuance.models import Job
from certificates.issuance.services import jobs
from certificates.issuance.services.certificate_status import NOT_RENEWABLE, set_status
from notifications.enums import Channel, NotificationType
from notifications.services.outbox import enqueue

# A CA asking for more than a day (a weekly duplicate-certificate limit) is asked again after a day, not left idle.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


def retry_not_before(now: datetime, retry_after: int | None) -> datetime | None:
    """The earliest retry time a CA's Retry-After asks for, capped at MAX_RETRY_AFTER_SECONDS; None without one."""
    if retry_after is None or retry_after <= 0:
        return None
    return now + timedelta(seconds=min(retry_after, MAX_RETRY_AFTER_SECONDS))


def fail_issuing_job(
    job: Job,
    message: str,
    *,
    actor: str,
    actor_type: str,
    now: datetime | None = None,
    audit_action: str = "renewal_job_failed",
    details: dict | None = None,
    retry_after: int | None = None,
) -> None:
    """A renewal/issuance attempt failed: job Failed, certificate Failed (visible), RenewalFailure queued, audited.

    `retry_after` (seconds, from the CA) holds the retry back at least that long (see the module's docstring).
    """
    now = now or timezone.now()
    not_before = retry_not_before(now, retry_after)
    if not_before is not None:
        details = {**(details or {}), "retry_not_before": not_before.isoformat()}
    with transaction.atomic():
        if job.status == JobStatus.PENDING:
            jobs.transition(job, JobStatus.RUNNING, actor=actor, actor_type=actor_type, now=now)
        jobs.transition(
            job,
            JobStatus.FAILED,
            actor=actor,
            actor_type=actor_type,
            error=message,
            now=now,
            audit_action=audit_action,
            details=details,
        )
        if not_before is not None:
            Job.objects.filter(pk=job.pk, status=JobStatus.FAILED).update(scheduled_at=not_before)
            job.scheduled_at = not_before
        certificate = ManagedCertificate.objects.select_related("owner").get(pk=job.certificate_id)
        if certificate.status not in NOT_RENEWABLE:
            set_status(certificate, CertificateStatus.FAILED, now)
        note = _retry_note(job, not_before)
        enqueue(
            type=NotificationType.RENEWAL_FAILURE,
            channel=Channel.EMAIL,
            recipient=certificate.owner.email,
            subject=f"Renewal of {certificate.common_name} failed",
            message=f"{job.type} of certificate {certificate.name} ({certificate.common_name}) failed: {message}.{note}",
            certificate_id=certificate.pk,
            dedup_key=f"renewal-failure:{job.pk}:{job.attempts}",
        )


def _retry_note(job: Job, not_before: datetime | None) -> str:
    if job.attempts >= job.max_attempts:
        return " No retries are left; renew it manually once the cause is fixed."
    when = f", not before {not_before:%Y-%m-%d %H:%M} UTC as the CA asked" if not_before else ""
    return f" It will be retried (attempt {job.attempts} of {job.max_attempts}){when}."
