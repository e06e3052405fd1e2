"""The issuance series on /metrics (needs the notifications stream's certctl/metrics.py; skipped without it)."""

from __future__ import annotations

import pytest

pytest.importorskip("certctl.metrics")

from certificates.issuance_metrics import collect
from certificates.services.issuance import issue_from_csr
from tests.factories import JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db(transaction=True)


def _samples():
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in collect() for s in m.samples}


def test_issuance_and_job_series():
    cert = issuable_certificate(make_root())
    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    JobFactory(status="Failed", type="Renewal")
    samples = _samples()
    assert samples[("certctl_issuance_total", (("issuer_type", "local"), ("outcome", "success")))] == 1
    assert samples[("certctl_jobs", (("status", "Failed"), ("type", "Renewal")))] == 1
    assert samples[("certctl_approval_requests", (("state", "pending"),))] == 0
