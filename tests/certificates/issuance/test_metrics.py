"""The issuance series on /metrics (needs the notifications stream's certctl/metrics.py; skipped without it)."""

from __future__ import annotations

import pytest

pytest.importorskip("certctl.metrics")

from certificates.issuance.metrics import collect
from certificates.issuance.services.issuance import issue_from_csr
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


def test_decisions_and_failures_are_exported_on_the_metrics_endpoint(client, settings):
    import re

    from certificates.issuance.models import ApprovalRequest
    from certificates.issuance.services import approvals
    from certificates.issuance.services.issuance import IssuerFailed
    from certificates.issuance.services.renewal import request_renewal
    from tests.factories import IssuerFactory, ProfileFactory

    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    gated = issuable_certificate(make_root(), profile=ProfileFactory(requires_approval=True))
    approvals.approve(ApprovalRequest.objects.get(job=request_renewal(gated, actor="alice")), actor="bob")
    broken = issuable_certificate(IssuerFactory(type="local"))  # a local issuer without CA material
    with pytest.raises(IssuerFailed):
        issue_from_csr(broken, make_csr(names_of(broken))[0], actor="alice")

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    def value(series: str) -> float:
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        assert match, f"{series} not exported"
        return float(match.group(1))

    assert (
        value(f'certctl_approval_decisions_total{{outcome="approved",profile_id="{gated.profile_id}"}}') == 1
    )
    assert value('certctl_issuance_total{issuer_type="local",outcome="failure"}') == 1
    assert value('certctl_approval_requests{state="approved"}') == 1
