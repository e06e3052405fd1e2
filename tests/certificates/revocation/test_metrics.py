"""The revocation series handed to /metrics."""

from __future__ import annotations

import pytest

from certificates.revocation.metrics import collect
from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services.revoke import revoke_certificate
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db


def _render() -> str:
    from prometheus_client import CollectorRegistry, generate_latest

    class Collector:
        def collect(self):
            return collect()

    registry = CollectorRegistry()
    registry.register(Collector())
    return generate_latest(registry).decode()


def test_series_show_revocations_by_reason_crl_time_and_zero_ocsp():
    ca = make_local_ca()
    cert, _, _ = issue_leaf(ca)
    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    crl_cache.regenerate(ca.issuer.id)
    text = _render()
    assert 'certctl_certificates_revoked_total{reason="keyCompromise"} 1.0' in text
    assert 'certctl_certificates_revoked_total{reason="superseded"} 0.0' in text
    assert f'certctl_crl_generation_seconds{{issuer="{ca.issuer.id}"}}' in text
    assert "# TYPE certctl_crl_generation_seconds gauge" in text
    assert 'certctl_ocsp_responses_total{status="unknown"} 0.0' in text


def test_metrics_endpoint_serves_the_revocation_series(client):
    ca = make_local_ca()
    cert, _, _ = issue_leaf(ca)
    revoke_certificate(cert.id, "caCompromise", actor="tester")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, response.content[:200]
    assert b'certctl_certificates_revoked_total{reason="caCompromise"} 1.0' in response.content
