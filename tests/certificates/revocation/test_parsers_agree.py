"""OpenSSL and `cryptography` read the very same CRL and OCSP bytes the same way: serials, reasons and dates."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from certificates.revocation.services.revoke import revoke_certificate
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db(transaction=True)

# How `openssl crl -text` spells each RFC 5280 reason (crypto/x509/v3_enum.c).
OPENSSL_REASON = {
    x509.ReasonFlags.unspecified: "Unspecified",
    x509.ReasonFlags.key_compromise: "Key Compromise",
    x509.ReasonFlags.ca_compromise: "CA Compromise",
    x509.ReasonFlags.affiliation_changed: "Affiliation Changed",
    x509.ReasonFlags.superseded: "Superseded",
    x509.ReasonFlags.cessation_of_operation: "Cessation Of Operation",
    x509.ReasonFlags.certificate_hold: "Certificate Hold",
    x509.ReasonFlags.privilege_withdrawn: "Privilege Withdrawn",
}
ALL_REASONS = [
    "unspecified",
    "keyCompromise",
    "caCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
]


def openssl_time(text: str) -> datetime:
    """`Nov 25 12:00:00 2026 GMT` (day padded with a space) as an aware datetime."""
    return datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


def run(*args) -> str:
    out = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def test_openssl_and_cryptography_read_the_same_crl(client, tmp_path):
    ca = make_local_ca()
    for reason in ALL_REASONS:
        cert, _, _ = issue_leaf(ca)
        revoke_certificate(cert.id, reason, actor="tester")
    der = client.get(f"/.well-known/pki/crl/{ca.issuer.id}").content
    (tmp_path / "crl.der").write_bytes(der)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    text = run(
        "crl",
        "-inform",
        "DER",
        "-in",
        tmp_path / "crl.der",
        "-CAfile",
        tmp_path / "ca.pem",
        "-noout",
        "-text",
    )
    assert "verify OK" in text

    seen_by_openssl = {
        int(serial, 16): (openssl_time(date), reason)
        for serial, date, reason in re.findall(
            r"Serial Number: ([0-9A-F]+)\s+Revocation Date: (.+?GMT)\s+CRL entry extensions:\s+"
            r"X509v3 CRL Reason Code:\s+(.+)",
            text,
        )
    }
    crl = x509.load_der_x509_crl(der)
    seen_by_cryptography = {
        entry.serial_number: (
            entry.revocation_date_utc,
            OPENSSL_REASON[entry.extensions.get_extension_for_class(x509.CRLReason).value.reason],
        )
        for entry in crl
    }
    assert len(seen_by_cryptography) == len(ALL_REASONS)
    assert seen_by_openssl == seen_by_cryptography
    assert {reason for _, reason in seen_by_openssl.values()} == set(OPENSSL_REASON.values())

    number = re.search(r"X509v3 CRL Number:\s+(\d+)", text).group(1)
    assert int(number) == crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert openssl_time(re.search(r"Last Update: (.+?GMT)", text).group(1)) == crl.last_update_utc
    assert openssl_time(re.search(r"Next Update: (.+?GMT)", text).group(1)) == crl.next_update_utc


@pytest.mark.parametrize("revoke", [False, True], ids=["good", "revoked"])
def test_openssl_and_cryptography_read_the_same_ocsp_response(live_server, tmp_path, revoke):
    ca = make_local_ca()
    cert, _, leaf = issue_leaf(ca)
    if revoke:
        revoke_certificate(cert.id, "affiliationChanged", actor="tester")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    url = live_server.url.replace("localhost", "127.0.0.1") + f"/.well-known/pki/ocsp/{ca.issuer.id}"
    text = run(
        "ocsp",
        "-issuer",
        tmp_path / "ca.pem",
        "-cert",
        tmp_path / "leaf.pem",
        "-url",
        url,
        "-CAfile",
        tmp_path / "ca.pem",
        "-respout",
        tmp_path / "resp.der",
    )
    assert "Response verify OK" in text

    response = ocsp.load_der_ocsp_response((tmp_path / "resp.der").read_bytes())
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == leaf.serial_number
    status = re.search(r"leaf\.pem: (\w+)", text).group(1)
    assert status == response.certificate_status.name.lower()
    assert openssl_time(re.search(r"This Update: (.+?GMT)", text).group(1)) == response.this_update_utc
    assert openssl_time(re.search(r"Next Update: (.+?GMT)", text).group(1)) == response.next_update_utc
    if revoke:
        assert status == "revoked"
        assert re.search(r"Reason: (\w+)", text).group(1) == "affiliationChanged"
        assert response.revocation_reason == x509.ReasonFlags.affiliation_changed
        revoked_at = openssl_time(re.search(r"Revocation Time: (.+?GMT)", text).group(1))
        assert revoked_at == response.revocation_time_utc
    else:
        assert status == "good"
        assert response.revocation_time_utc is None
