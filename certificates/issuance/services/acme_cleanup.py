"""Abandoned ACME orders: closed, and their HTTP-01 answers no longer served.

An open order (pending, ready, processing, valid) is abandoned when nothing will resume it: no issuance or renewal
job that may still run (open, or Failed with attempts left) wants a certificate of its issuer for exactly its names,
or it is older than ORDER_LIFETIME, past which the CA has expired it anyway. Orders touched within the job lease
(CERTCTL_JOB_RUNNING_LEASE) are left alone: a worker may be driving one without a job (an operator's CSR). The job
timeout sweep (`job_processor.reap_timeouts`) runs this.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from certificates.enums import OPEN_JOB_STATUSES, JobStatus
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder, Job
from certificates.issuance.services.jobs import ISSUING_TYPES

# Let's Encrypt's order lifetime (RFC 8555 leaves it to the CA); the CA tells each order's `expires`.
ORDER_LIFETIME = timedelta(days=7)
ABANDONED = "abandoned"


def _wanted_names(issuer_ids: set[str]) -> set[tuple[str, frozenset[str]]]:
    """(issuer, names) of every certificate whose issuance or renewal job may still run."""
    may_run = Q(status__in=OPEN_JOB_STATUSES) | Q(status=JobStatus.FAILED, attempts__lt=F("max_attempts"))
    rows = (
        Job.objects.filter(may_run, type__in=ISSUING_TYPES, certificate__issuer_id__in=issuer_ids)
        .values_list("certificate__issuer_id", "certificate__common_name", "certificate__sans")
        .distinct()
    )
    return {
        (issuer_id, frozenset(name.lower() for name in [common_name, *(sans or [])] if name))
        for issuer_id, common_name, sans in rows
    }


def discard_abandoned_orders(*, now: datetime, batch_size: int = 500) -> int:
    """Mark abandoned orders `abandoned` and delete their challenge answers (and any answer left behind by an
    order that is no longer open); returns how many orders were abandoned."""
    idle_cutoff = now - timedelta(seconds=settings.JOB_RUNNING_LEASE)
    candidates = list(
        AcmeOrder.objects.filter(status__in=AcmeOrder.OPEN_STATUSES, updated_at__lte=idle_cutoff)
        .order_by("updated_at")
        .values_list("pk", "issuer_id", "identifiers", "created_at")[:batch_size]
    )
    wanted = _wanted_names({issuer_id for _pk, issuer_id, _names, _created in candidates})
    expired, unwanted = [], []
    for pk, issuer_id, identifiers, created_at in candidates:
        if created_at <= now - ORDER_LIFETIME:
            expired.append(pk)
        elif (issuer_id, frozenset(name.lower() for name in identifiers)) not in wanted:
            unwanted.append(pk)
    count = 0
    with transaction.atomic():
        for pks, reason in ((expired, "past the CA's order lifetime"), (unwanted, "no job will resume it")):
            count += AcmeOrder.objects.filter(
                pk__in=pks, status__in=AcmeOrder.OPEN_STATUSES, updated_at__lte=idle_cutoff
            ).update(status=ABANDONED, error=f"abandoned: {reason}", updated_at=now)
        AcmeHttpChallenge.objects.exclude(order__status__in=AcmeOrder.OPEN_STATUSES).delete()
    return count
