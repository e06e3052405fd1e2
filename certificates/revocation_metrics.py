"""Prometheus series of revocation, for the /metrics endpoint to include.

`metric_families()` returns one dict per metric: {"name", "type", "help", "samples": [(labels, value), ...]}.
Counters come from certctl.counters (shared by all processes); the CRL generation time is a gauge per issuer read
from the stored CRLs.
"""

from __future__ import annotations

from certctl import counters
from certificates.enums import REVOCATION_REASON_CODES
from certificates.models import CRLCache
from certificates.services.ocsp_cache import OCSP_METRIC, flush_metrics
from certificates.services.revocation import REVOKED_METRIC

OCSP_STATUSES = ("good", "revoked", "unknown", "malformedRequest", "unauthorized", "internalError")


def metric_families() -> list[dict]:
    flush_metrics()
    revoked = {dict(labels).get("reason"): value for labels, value in counters.read(REVOKED_METRIC).items()}
    ocsp = {dict(labels).get("status"): value for labels, value in counters.read(OCSP_METRIC).items()}
    crl_seconds = [
        ({"issuer": issuer_id}, duration_ms / 1000)
        for issuer_id, duration_ms in CRLCache.objects.exclude(generated_at=None)
        .order_by("issuer_id")
        .values_list("issuer_id", "generation_duration_ms")
    ]
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
            "name": OCSP_METRIC,
            "type": "counter",
            "help": "OCSP responses sent, by certificate status or OCSP error status.",
            "samples": [({"status": s}, ocsp.get(s, 0)) for s in OCSP_STATUSES],
        },
    ]


def prometheus_text() -> str:
    """The families in Prometheus text exposition format 0.0.4."""
    lines = []
    for family in metric_families():
        lines.append(f"# HELP {family['name']} {family['help']}")
        lines.append(f"# TYPE {family['name']} {family['type']}")
        for labels, value in family["samples"]:
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{family['name']}{{{rendered}}} {value}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
