"""The expiry check's series for /metrics (gathered by certificates/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from certctl.kernel.metrics import counter_family
from certificates.expiry.services.check import METRIC


def collect() -> Iterable[Metric]:
    """`certctl_expiry_alerts_total{channel,threshold,result}` from the database counter."""
    yield counter_family(
        METRIC,
        "Expiry alerts per channel and threshold: success = alert created and queued for delivery, "
        "deduped = already created for this expiry, failure = dropped (channel not one of the six)",
        ["channel", "threshold", "result"],
    )
