"""The delegated OCSP responder certificate (RFC 6960 §4.2.2.2): issued by the CA, EKU OCSPSigning, ocsp-nocheck."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certctl.kernel.x509 import key_usage
from certificates.issuance.issuers.ca_store import CAMaterial

# Backdate a little so a client with a slightly slow clock accepts a fresh responder certificate.
CLOCK_SKEW = timedelta(minutes=5)


def issue_responder_certificate(
    ca: CAMaterial, *, now: datetime, validity: timedelta
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new P-256 key and its OCSP signing certificate, valid from now (minus skew) for `validity`."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = ca_cn[0].value if ca_cn else ca.subject.rfc4514_string()
    not_after = min(now + validity, ca.not_after)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"OCSP Responder for {label}"[:64])])
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(digital_signature=True),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(ca.authority_key_identifier, critical=False)
        .sign(ca.private_key, ca.signature_algorithm)
    )
    return certificate, key


def needs_rotation(not_after: datetime, *, now: datetime, grace: timedelta) -> bool:
    """Rotate once the certificate would expire within the grace period."""
    return now + grace >= not_after
