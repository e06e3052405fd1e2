"""The certificates app's series for /metrics (certctl.metrics discovers `collect`): each package's, in turn."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from certificates.agents import metrics as agents
from certificates.expiry import metrics as expiry
from certificates.issuance import metrics as issuance
from certificates.revocation import metrics as revocation


def collect() -> Iterable[Metric]:
    for package in (agents, expiry, issuance, revocation):
        yield from package.collect()
