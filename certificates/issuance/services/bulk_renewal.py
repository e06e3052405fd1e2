"""Bulk renewal by criteria (`POST /certificates/bulk-renew`): every match, in chunks, no row cap."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from audit.services.record import record
from certificates.enums import CertificateStatus
from certificates.inventory.models import ManagedCertificate
from certificates.issuance.services.renewal import RenewalAlreadyOpen, RenewalRefused, request_renewal

CRITERIA = ("profile_id", "owner_id", "agent_id", "issuer_id", "team_id", "certificate_ids")
SKIPPED_STATUSES = (
    CertificateStatus.ARCHIVED,
    CertificateStatus.REVOKED,
    CertificateStatus.RENEWAL_IN_PROGRESS,
)
CHUNK = 500


@dataclass
class BulkRenewalResult:
    total_matched: int = 0
    total_enqueued: int = 0
    total_skipped: int = 0
    total_failed: int = 0
    enqueued_jobs: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


def matching_certificates(criteria: dict) -> QuerySet[ManagedCertificate]:
    """AND of the given criteria; `agent_id` = certificates mapped to any target of that agent."""
    qs = ManagedCertificate.objects.all()
    for key in ("profile_id", "owner_id", "issuer_id", "team_id"):
        if criteria.get(key):
            qs = qs.filter(**{key: criteria[key]})
    if criteria.get("agent_id"):
        qs = qs.filter(targets__agent_id=criteria["agent_id"]).distinct()
    if criteria.get("certificate_ids"):
        qs = qs.filter(pk__in=criteria["certificate_ids"])
    return qs


def bulk_renew(
    criteria: dict, *, actor: str, actor_type: str = "User", now: datetime | None = None
) -> BulkRenewalResult:
    """Open a renewal job for every matching certificate that can renew; skip the rest; one summary audit row."""
    now = now or timezone.now()
    result = BulkRenewalResult()
    qs = matching_certificates(criteria).select_related("issuer", "profile", "renewal_policy").order_by("pk")
    last_pk = ""
    while True:
        chunk = list(qs.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        for certificate in chunk:
            result.total_matched += 1
            if certificate.status in SKIPPED_STATUSES:
                result.total_skipped += 1
                continue
            try:
                job = request_renewal(certificate, actor=actor, actor_type=actor_type, now=now)
            except RenewalAlreadyOpen:
                result.total_skipped += 1
            except RenewalRefused as exc:
                result.total_failed += 1
                result.errors.append({"certificate_id": certificate.pk, "error": str(exc)})
            else:
                result.total_enqueued += 1
                result.enqueued_jobs.append({"certificate_id": certificate.pk, "job_id": job.pk})
    record(
        "bulk_renewal_initiated",
        resource_type="certificate",
        resource_id="bulk",
        actor=actor,
        actor_type=actor_type,
        details={
            "criteria": {k: criteria[k] for k in CRITERIA if criteria.get(k)},
            "total_matched": result.total_matched,
            "total_enqueued": result.total_enqueued,
            "total_skipped": result.total_skipped,
            "total_failed": result.total_failed,
        },
        now=now,
    )
    return result
