"""Issuance, job and approval series for /metrics (gathered by certificates/metrics.py at scrape time)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from certctl.kernel.metrics import counter_family, histogram_family
from certificates.enums import ApprovalState, JobStatus, JobType
from certificates.issuance.issuers.registry import registered_types
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services.approvals import (
    DECISIONS_COUNTER,
    PENDING_AGE_BUCKETS,
    PENDING_AGE_HISTOGRAM,
)
from certificates.issuance.services.recording import (
    ERROR_CLASSES,
    ISSUANCE_COUNTER,
    ISSUANCE_FAILURES,
    ISSUANCE_SECONDS,
    issuance_counter,
    issuance_failures,
    issuance_seconds,
)


def job_counts() -> dict[tuple[str, str], int]:
    """Jobs per (type, status), every pair present; one GROUP BY."""
    counts = {(t, s): 0 for t in JobType.values for s in JobStatus.values}
    for row in Job.objects.order_by().values("type", "status").annotate(n=Count("id")):
        counts[(row["type"], row["status"])] = row["n"]
    return counts


def collect() -> Iterable[Metric]:
    # This process's buffered counts; other processes write theirs within seconds.
    for buffered in (issuance_counter, issuance_failures, issuance_seconds):
        buffered.flush()
    yield counter_family(
        ISSUANCE_COUNTER, "Certificates issued by issuer type and outcome", ["issuer_type", "outcome"]
    )
    yield histogram_family(
        ISSUANCE_SECONDS,
        "Time the issuer took to sign one certificate",
        ["issuer_type"],
        issuance_seconds.buckets,
    )
    yield counter_family(
        ISSUANCE_FAILURES,
        "Issuances refused by certctl's checks (validation) or failed by the issuer, by error class",
        ["issuer_type", "error_class"],
        known=[
            {"issuer_type": issuer_type, "error_class": error_class}
            for issuer_type in registered_types()
            for error_class in ERROR_CLASSES
        ],
    )
    yield counter_family(
        DECISIONS_COUNTER, "Approval decisions by outcome and profile", ["outcome", "profile_id"]
    )
    pending_age = histogram_family(
        PENDING_AGE_HISTOGRAM,
        "How long approval requests waited for their approval or rejection",
        [],
        PENDING_AGE_BUCKETS,
    )
    if not pending_age.samples:  # exported at 0 before the first decision, so rate() sees the first one
        pending_age.add_metric([], [(repr(b), 0) for b in PENDING_AGE_BUCKETS] + [("+Inf", 0)], sum_value=0)
    yield pending_age
    jobs = GaugeMetricFamily("certctl_jobs", "Jobs by type and status", labels=["type", "status"])
    for (job_type, status), n in sorted(job_counts().items()):
        jobs.add_metric([job_type, status], n)
    yield jobs
    approvals = GaugeMetricFamily("certctl_approval_requests", "Approval requests by state", labels=["state"])
    states = dict.fromkeys(ApprovalState.values, 0)
    for row in ApprovalRequest.objects.order_by().values("state").annotate(n=Count("id")):
        states[row["state"]] = row["n"]
    for state, n in states.items():
        approvals.add_metric([state], n)
    yield approvals
