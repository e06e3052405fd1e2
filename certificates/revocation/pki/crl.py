"""Build a signed X.509 v2 CRL (RFC 5280 §5) from an iterable of revocations.

The entries are handed to `CertificateRevocationListBuilder(revoked_certificates=...)` in one list:
`add_revoked_certificate()` copies the builder on every call, which is quadratic over 100,000 entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certificates.issuance.issuers.ca_store import CAMaterial
from certificates.revocation.pki import REASON_FLAGS

# One extension object per reason, shared by every entry.
_REASON_EXTENSIONS = {
    name: x509.Extension(x509.CRLReason.oid, False, x509.CRLReason(flag))
    for name, flag in REASON_FLAGS.items()
}


def revoked_entry(serial_hex: str, revoked_at: datetime, reason: str) -> x509.RevokedCertificate:
    extension = _REASON_EXTENSIONS.get(reason) or _REASON_EXTENSIONS["unspecified"]
    return x509.RevokedCertificateBuilder(
        serial_number=int(serial_hex, 16),
        revocation_date=revoked_at,
        extensions=[extension],
    ).build()


def build_crl(
    ca: CAMaterial,
    revocations: Iterable[tuple[str, datetime, str]],
    *,
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """DER CRL signed by the CA; `revocations` yields (serial hex, revoked_at, reason name)."""
    entries = [revoked_entry(serial, revoked_at, reason) for serial, revoked_at, reason in revocations]
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=ca.subject,
        last_update=this_update,
        next_update=next_update,
        extensions=[
            x509.Extension(x509.AuthorityKeyIdentifier.oid, False, ca.authority_key_identifier),
            x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(crl_number)),
        ],
        revoked_certificates=entries,
    )
    crl = builder.sign(ca.private_key, ca.signature_algorithm)
    return crl.public_bytes(serialization.Encoding.DER)


def der_to_pem(der: bytes) -> bytes:
    return x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
