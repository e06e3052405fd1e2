"""CSRs the profile or the certificate does not allow are refused with a clear reason, and nothing changes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certificates.inventory.models import CertificateVersion
from certificates.issuance.services.issuance import (
    CertificateNotIssuable,
    CSRInvalid,
    ProfileViolation,
    issue_from_csr,
)
from tests.issuance_helpers import issuable_certificate, make_csr, make_key, make_root, names_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer(db):
    return make_root()


def _refused(cert, csr_pem, error, match):
    with pytest.raises(error, match=match):
        issue_from_csr(cert, csr_pem, actor="alice")
    assert not CertificateVersion.objects.filter(certificate=cert).exists()
    cert.refresh_from_db()
    assert cert.status == "Pending"


def test_rsa_key_below_profile_minimum_is_refused(issuer):
    cert = issuable_certificate(issuer)
    cert.profile.allowed_key_algorithms = [{"algorithm": "RSA", "min_size": 3072}]
    cert.profile.save()
    csr_pem, _ = make_csr(names_of(cert), make_key("RSA-2048"))
    _refused(cert, csr_pem, ProfileViolation, r"RSA key of 2048 bits is below the profile minimum")


def test_small_rsa_key_is_refused_by_default_profile(issuer):
    cert = issuable_certificate(issuer)
    cert.profile.allowed_key_algorithms = [
        {"algorithm": "ECDSA", "min_size": 256},
        {"algorithm": "RSA", "min_size": 2048},
    ]
    cert.profile.save()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key is the point
    _refused(cert, make_csr(names_of(cert), weak)[0], ProfileViolation, "1024 bits")


def test_key_algorithm_not_in_profile_is_refused(issuer):
    cert = issuable_certificate(issuer)
    cert.profile.allowed_key_algorithms = [{"algorithm": "ECDSA", "min_size": 256}]
    cert.profile.save()
    _refused(
        cert, make_csr(names_of(cert), make_key("Ed25519"))[0], ProfileViolation, "Ed25519 is not allowed"
    )


def test_ecdsa_curve_below_minimum_is_refused(issuer):
    cert = issuable_certificate(issuer)
    cert.profile.allowed_key_algorithms = [{"algorithm": "ECDSA", "min_size": 384}]
    cert.profile.save()
    _refused(
        cert, make_csr(names_of(cert), make_key("ECDSA-P256"))[0], ProfileViolation, "ECDSA key of 256 bits"
    )


def test_names_not_on_the_certificate_are_refused(issuer):
    cert = issuable_certificate(issuer)
    csr_pem, _ = make_csr([cert.common_name, "evil.example.org"])
    _refused(cert, csr_pem, ProfileViolation, r"names that are not on the certificate: evil\.example\.org")


def test_names_outside_required_san_patterns_are_refused(issuer):
    cert = issuable_certificate(issuer, sans=["db.internal.test"])
    cert.profile.required_san_patterns = [r".*\.example\.test"]
    cert.profile.save()
    _refused(cert, make_csr(names_of(cert))[0], ProfileViolation, r"db\.internal\.test do not match")


def test_requested_eku_outside_profile_is_refused(issuer):
    cert = issuable_certificate(issuer)
    csr_pem, _ = make_csr(names_of(cert), ekus=[ExtendedKeyUsageOID.CODE_SIGNING])
    _refused(cert, csr_pem, ProfileViolation, "codeSigning")


def test_disabled_profile_is_refused(issuer):
    cert = issuable_certificate(issuer)
    cert.profile.enabled = False
    cert.profile.save()
    _refused(cert, make_csr(names_of(cert))[0], ProfileViolation, "disabled")


def test_tampered_csr_signature_is_refused(issuer):
    cert = issuable_certificate(issuer)
    csr_pem, _ = make_csr(names_of(cert))
    other_pem, _ = make_csr(names_of(cert))
    # Same request body, signature from another key: swap the last base64 line (part of the signature).
    lines, other = csr_pem.strip().splitlines(), other_pem.strip().splitlines()
    tampered = "\n".join([*lines[:-2], other[-2], lines[-1]]) + "\n"
    with pytest.raises(CSRInvalid):
        issue_from_csr(cert, tampered, actor="alice")
    assert not CertificateVersion.objects.filter(certificate=cert).exists()


@pytest.mark.parametrize(
    "garbage", ["", "hello", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"]
)
def test_unparsable_csr_is_refused(issuer, garbage):
    cert = issuable_certificate(issuer)
    _refused(cert, garbage, CSRInvalid, "CSR|PKCS#10")


def test_archived_or_revoked_certificate_is_not_issued(issuer):
    cert = issuable_certificate(issuer, status="Archived")
    with pytest.raises(CertificateNotIssuable, match="Archived"):
        issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
