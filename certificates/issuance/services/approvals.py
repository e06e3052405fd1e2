"""Two-person approval of issuance and renewal jobs for profiles with `requires_approval` (spec §8.5).

The API, the Django admin action and the expiry sweep all decide requests through these functions, so the
rule "the requester cannot approve their own request" holds everywhere.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from certctl.kernel import counters
from certctl.kernel.metrics import observe_many
from certificates.enums import ApprovalState, JobStatus
from certificates.inventory.models import ManagedCertificate
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services import jobs
from certificates.issuance.services.certificate_status import settle_certificate_status

logger = logging.getLogger(__name__)

BYPASS_ACTOR = "system-bypass"
REAPER_ACTOR = "system-reaper"
DECISIONS_COUNTER = "certctl_approval_decisions_total"
# How long a request waited for its approval or rejection (the reference recorded it but never exported it).
PENDING_AGE_HISTOGRAM = "certctl_approval_pending_age_seconds"
PENDING_AGE_BUCKETS = (60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)


class ApprovalError(Exception):
    """Base class: the decision cannot be made."""


class SelfApprovalForbidden(ApprovalError):
    """The requester tried to decide their own request (API 403)."""


class AlreadyDecided(ApprovalError):
    """The request is no longer pending (API 409)."""


def open_request(
    job: Job, certificate: ManagedCertificate, *, requested_by: str, actor_type: str, now: datetime
) -> ApprovalRequest:
    """Attach an approval request to a new gated job; with CERTCTL_APPROVAL_BYPASS it is approved at once."""
    bypass = settings.APPROVAL_BYPASS
    request = ApprovalRequest.objects.create(
        certificate=certificate,
        job=job,
        profile=certificate.profile,
        requested_by=requested_by,
        state=ApprovalState.APPROVED if bypass else ApprovalState.PENDING,
        decided_by=BYPASS_ACTOR if bypass else "",
        decided_at=now if bypass else None,
        decision_note="approval bypass is enabled (CERTCTL_APPROVAL_BYPASS)" if bypass else "",
        metadata={"common_name": certificate.common_name, "job_type": job.type},
    )
    record(
        "approval_bypassed" if bypass else "approval_requested",
        resource_type="approval_request",
        resource_id=request.pk,
        actor=BYPASS_ACTOR if bypass else requested_by,
        actor_type="System" if bypass else actor_type,
        details={"job_id": job.pk, "certificate_id": certificate.pk, "profile_id": certificate.profile_id},
        now=now,
    )
    if bypass:
        counters.increment(DECISIONS_COUNTER, {"outcome": "bypassed", "profile_id": certificate.profile_id})
    return request


def _locked_pending(request: ApprovalRequest) -> ApprovalRequest:
    locked = (
        ApprovalRequest.objects.select_for_update().select_related("job", "certificate").get(pk=request.pk)
    )
    if locked.state != ApprovalState.PENDING:
        raise AlreadyDecided(f"approval request {locked.pk} is already {locked.state}")
    return locked


def _decide(
    request: ApprovalRequest, state: str, *, actor: str, actor_type: str, note: str, now: datetime | None
) -> ApprovalRequest:
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_pending(request)
        if actor.strip().lower() == locked.requested_by.strip().lower():
            raise SelfApprovalForbidden(
                f"{actor} requested this and cannot decide it: two-person integrity needs a different approver"
            )
        locked.state = state
        locked.decided_by = actor
        locked.decided_at = now
        locked.decision_note = note
        locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note", "updated_at"])
        job = locked.job
        if state == ApprovalState.APPROVED:
            jobs.transition(
                job,
                JobStatus.PENDING,
                actor=actor,
                actor_type=actor_type,
                now=now,
                audit_action="job_approved",
            )
        else:
            _cancel_job(
                job, f"approval rejected: {note}" if note else "approval rejected", actor, actor_type, now
            )
        record(
            f"approval_{state}",
            resource_type="approval_request",
            resource_id=locked.pk,
            actor=actor,
            actor_type=actor_type,
            details={"job_id": job.pk, "certificate_id": locked.certificate_id, "note": note},
            now=now,
        )
        counters.increment(DECISIONS_COUNTER, {"outcome": state, "profile_id": locked.profile_id})
        waited = max(0.0, (now - locked.created_at).total_seconds())
        observe_many(PENDING_AGE_HISTOGRAM, [({}, waited)], PENDING_AGE_BUCKETS)
    request.refresh_from_db()
    return request


def _cancel_job(job: Job, error: str, actor: str, actor_type: str, now: datetime) -> None:
    job.refresh_from_db(fields=["status"])
    if job.status == JobStatus.AWAITING_APPROVAL:
        jobs.transition(job, JobStatus.CANCELLED, actor=actor, actor_type=actor_type, error=error, now=now)
        settle_certificate_status(job.certificate, now=now)


def approve(
    request: ApprovalRequest, *, actor: str, actor_type: str = "User", note: str = "", now=None
) -> ApprovalRequest:
    """Approve: the job goes to Pending (the processor then issues or hands it to the agent)."""
    return _decide(request, ApprovalState.APPROVED, actor=actor, actor_type=actor_type, note=note, now=now)


def reject(
    request: ApprovalRequest, *, actor: str, actor_type: str = "User", note: str = "", now=None
) -> ApprovalRequest:
    """Reject: the job is Cancelled with the note as its error; the certificate returns to its expiry status."""
    return _decide(request, ApprovalState.REJECTED, actor=actor, actor_type=actor_type, note=note, now=now)


def close_pending_for_job(job: Job, *, actor: str, note: str, now: datetime) -> None:
    """A gated job is being replaced (forced renewal): its pending request expires with the reason."""
    for request in ApprovalRequest.objects.select_for_update().filter(job=job, state=ApprovalState.PENDING):
        request.state = ApprovalState.EXPIRED
        request.decided_by = actor
        request.decided_at = now
        request.decision_note = note
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_note", "updated_at"])
        record(
            "approval_expired",
            resource_type="approval_request",
            resource_id=request.pk,
            actor=actor,
            details={"job_id": job.pk, "reason": note},
            now=now,
        )


def expire_stale(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Pending requests older than CERTCTL_JOB_AWAITING_APPROVAL_TIMEOUT expire; their jobs are Cancelled."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_AWAITING_APPROVAL_TIMEOUT)
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                ApprovalRequest.objects.select_for_update(skip_locked=True)
                .filter(state=ApprovalState.PENDING, created_at__lte=cutoff)
                .select_related("job", "certificate")
                .order_by("created_at")[:batch_size]
            )
            for request in batch:
                age_hours = round((now - request.created_at).total_seconds() / 3600, 1)
                request.state = ApprovalState.EXPIRED
                request.decided_by = REAPER_ACTOR
                request.decided_at = now
                request.decision_note = f"no decision within {age_hours:g} h"
                request.save(
                    update_fields=["state", "decided_by", "decided_at", "decision_note", "updated_at"]
                )
                _cancel_job(request.job, "approval expired", REAPER_ACTOR, "System", now)
                record(
                    "approval_expired",
                    resource_type="approval_request",
                    resource_id=request.pk,
                    actor=REAPER_ACTOR,
                    details={
                        "job_id": request.job_id,
                        "age_hours": age_hours,
                        "timeout_reason": "approval_timeout",
                    },
                    now=now,
                )
            per_profile = Counter(r.profile_id for r in batch)
            counters.increment_many(
                DECISIONS_COUNTER,
                [({"outcome": "expired", "profile_id": p}, n) for p, n in per_profile.items()],
            )
        expired += len(batch)
        if len(batch) < batch_size:
            return expired
