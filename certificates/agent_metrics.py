"""Agent series for /metrics (certctl.metrics discovers `collect`): deployment outcomes reported by agents."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from certctl.metrics import counter_family
from certificates.services.agent_work import DEPLOYMENT_COUNTER


def collect() -> Iterable[Metric]:
    yield counter_family(
        DEPLOYMENT_COUNTER,
        "Deployment jobs finished by agents (or failed by the offline sweep), by target type and outcome.",
        ("target_type", "outcome"),
    )
