"""Prometheus series of revocation, for the /metrics endpoint to include.

`collect()` yields prometheus_client families (certificates/metrics.py gathers it); `metric_families()` is the same data as plain dicts {"name", "type", "help",
"samples": [(labels, value), ...]}. Counters come from certctl.kernel.counters (shared by all processes); the CRL
generation time and the nextUpdate are gauges per issuer read from the stored CRLs.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from certctl.kernel import counters
from certificates.enums import REVOCATION_REASON_CODES
from certificates.revocation.models import CRLCache
from certificates.revocation.services.ocsp_cache import OCSP_METRIC, flush_metrics
from certificates.revocation.services.revoke import REVOKED_METRIC

OCSP_STATUSES = ("good", "revoked", "unknown", "malformedRequest", "unauthorized", "internalError")


def metric_families() -> list[dict]:
    flush_metrics()
    revoked = {dict(labels).get("reason"): value for labels, value in counters.read(REVOKED_METRIC).items()}
    ocsp = {dict(labels).get("status"): value for labels, value in counters.read(OCSP_METRIC).items()}
    crls = (
        CRLCache.objects.exclude(generated_at=None)
        .order_by("issuer_id")
        .values_list("issuer_id", "generation_duration_ms", "next_update")
    )
    crl_seconds, crl_next_update = [], []
    for issuer_id, duration_ms, next_update in crls:
        crl_seconds.append(({"issuer": issuer_id}, duration_ms / 1000))
        if next_update is not None:
            crl_next_update.append(({"issuer": issuer_id}, next_update.timestamp()))
    return [
        {
            "name": REVOKED_METRIC,
            "type": "counter",
            "help": "Certificates revoked, by RFC 5280 reason.",
            "samples": [({"reason": r}, revoked.get(r, 0)) for r in REVOCATION_REASON_CODES],
        },
        {
            "name": "certctl_crl_generation_seconds",
            "type": "gauge",
            "help": "Time the last CRL generation of each issuer took.",
            "samples": crl_seconds,
        },
        {
            "name": "certctl_crl_next_update_timestamp_seconds",
            "type": "gauge",
            "help": "nextUpdate of each issuer's current CRL (Unix time); past it, relying parties reject the CRL.",
            "samples": crl_next_update,
        },
        {
            "name": OCSP_METRIC,
            "type": "counter",
            "help": "OCSP responses sent, by certificate status or OCSP error status.",
            "samples": [({"status": s}, ocsp.get(s, 0)) for s in OCSP_STATUSES],
        },
    ]


def collect() -> Iterable[Metric]:
    for family in metric_families():
        kind = CounterMetricFamily if family["type"] == "counter" else GaugeMetricFamily
        label_names = sorted({k for labels, _ in family["samples"] for k in labels}) or [
            "issuer" if family["type"] == "gauge" else "reason"
        ]
        metric = kind(family["name"], family["help"], labels=label_names)
        for labels, value in family["samples"]:
            metric.add_metric([labels[k] for k in label_names], value)
        yield metric
