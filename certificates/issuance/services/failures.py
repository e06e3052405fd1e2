"""A failed issuance or renewal attempt: job Failed, certificate Failed, the owner told, all audited."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from certificates.enums import CertificateStatus, JobStatus
from certificates.inventory.models import ManagedCertificate
from certificates.issuance.models import Job
from certificates.issuance.services import jobs
from certificates.issuance.services.certificate_status import NOT_RENEWABLE, set_status
from notifications.enums import Channel, NotificationType
from notifications.services.outbox import enqueue


def fail_issuing_job(
    job: Job,
    message: str,
    *,
    actor: str,
    actor_type: str,
    now: datetime | None = None,
    audit_action: str = "renewal_job_failed",
    details: dict | None = None,
) -> None:
    """A renewal/issuance attempt failed: job Failed, certificate Failed (visible), RenewalFailure queued, audited."""
    now = now or timezone.now()
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
        certificate = ManagedCertificate.objects.select_related("owner").get(pk=job.certificate_id)
        if certificate.status not in NOT_RENEWABLE:
            set_status(certificate, CertificateStatus.FAILED, now)
        retry_note = (
            f" It will be retried (attempt {job.attempts} of {job.max_attempts})."
            if job.attempts < job.max_attempts
            else " No retries are left; renew it manually once the cause is fixed."
        )
        enqueue(
            type=NotificationType.RENEWAL_FAILURE,
            channel=Channel.EMAIL,
            recipient=certificate.owner.email,
            subject=f"Renewal of {certificate.common_name} failed",
            message=f"{job.type} of certificate {certificate.name} ({certificate.common_name}) failed: {message}.{retry_note}",
            certificate_id=certificate.pk,
            dedup_key=f"renewal-failure:{job.pk}:{job.attempts}",
        )
