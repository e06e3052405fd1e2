"""`openssl ocsp` against the responder served by a real HTTP server on 127.0.0.1 (pytest-django live_server)."""

from __future__ import annotations

import base64
import subprocess
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from certificates.revocation.services.revoke import revoke_certificate
from tests.revocation_support import issue_leaf, make_ca_certificate, make_local_ca

pytestmark = pytest.mark.django_db(transaction=True)


def openssl_ocsp(tmp_path, ca, leaf, url: str) -> str:
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            tmp_path / "ca.pem",
            "-cert",
            tmp_path / "leaf.pem",
            "-url",
            url,
            "-CAfile",
            tmp_path / "ca.pem",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert "Response verify OK" in out.stderr + out.stdout
    return out.stdout


@pytest.fixture
def responder_url(live_server):
    base = live_server.url.replace("localhost", "127.0.0.1")
    return lambda issuer_id: f"{base}/.well-known/pki/ocsp/{issuer_id}"


def test_openssl_sees_good_then_revoked_with_reason(tmp_path, responder_url):
    ca = make_local_ca()
    cert, _, leaf = issue_leaf(ca)
    before = openssl_ocsp(tmp_path, ca, leaf, responder_url(ca.issuer.id))
    assert "leaf.pem: good" in before

    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    after = openssl_ocsp(tmp_path, ca, leaf, responder_url(ca.issuer.id))
    assert "leaf.pem: revoked" in after
    assert "Reason: keyCompromise" in after
    assert "Revocation Time" in after


def test_openssl_sees_unknown_for_a_serial_never_issued(tmp_path, responder_url):
    ca = make_local_ca()
    stranger = make_ca_certificate(
        "stranger", ec.generate_private_key(ec.SECP256R1()), ca.material.certificate, ca.material.private_key
    )
    assert "leaf.pem: unknown" in openssl_ocsp(tmp_path, ca, stranger, responder_url(ca.issuer.id))


def test_openssl_accepts_an_intermediate_ca_responder(tmp_path, responder_url):
    ca = make_local_ca("Test Issuing CA", intermediate=True)
    _, _, leaf = issue_leaf(ca)
    (tmp_path / "chain.pem").write_bytes(ca.material.chain_pem.encode())
    (tmp_path / "issuing.pem").write_bytes(ca.cert_pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            tmp_path / "issuing.pem",
            "-cert",
            tmp_path / "leaf.pem",
            "-url",
            responder_url(ca.issuer.id),
            "-CAfile",
            tmp_path / "chain.pem",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Response verify OK" in out.stderr + out.stdout, out.stderr
    assert "leaf.pem: good" in out.stdout


def test_get_request_over_http(live_server, responder_url):
    ca = make_local_ca()
    _, _, leaf = issue_leaf(ca)
    der = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, ca.material.certificate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    url = responder_url(ca.issuer.id) + "/" + urllib.request.quote(base64.b64encode(der).decode(), safe="")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/ocsp-response"
        parsed = ocsp.load_der_ocsp_response(response.read())
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
