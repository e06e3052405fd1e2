"""Certificate series for /metrics (certctl.metrics discovers `collect`)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from certificates.expiry_metrics import expiry_alert_families


def collect() -> Iterable[Metric]:
    yield from expiry_alert_families()
