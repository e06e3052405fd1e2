"""Certificate series for /metrics (certctl.metrics discovers `collect`)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from certificates.revocation_metrics import revocation_families


def collect() -> Iterable[Metric]:
    yield from revocation_families()
