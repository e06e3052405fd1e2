"""Agent series for /metrics (gathered by certificates/metrics.py): deployment outcomes reported by agents."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from certctl.kernel.metrics import counter_family
from certificates.agents.services.work import DEPLOYMENT_COUNTER


def collect() -> Iterable[Metric]:
    yield counter_family(
        DEPLOYMENT_COUNTER,
        "Deployment jobs finished by agents (or failed by the offline sweep), by target type and outcome.",
        ("target_type", "outcome"),
    )
