"""Build a signed X.509 v2 CRL (RFC 5280 §5) from DER-encoded revocation entries.

Each entry (a `revokedCertificates` element) is encoded once, when its revocation first reaches a CRL, and
stored with the revocation; a CRL is then the stored entries concatenated and signed once. The header (version,
signature algorithm, issuer, dates, extensions) comes from cryptography's builder for an empty CRL, so what
certctl writes itself is only the entries and the splice, both checked against cryptography's output in tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from certificates.enums import REVOCATION_REASON_CODES
from certificates.issuance.issuers.ca_store import CAMaterial
from certificates.revocation.pki.der import crl_time, integer, read, tlv

# crlEntryExtensions holding only a non-critical CRLReason (OID 2.5.29.21); the last byte is the code.
_REASON_EXTENSIONS = {
    name: bytes.fromhex("300c300a0603551d150403") + bytes([0x0A, 0x01, code])
    for name, code in REVOCATION_REASON_CODES.items()
}


def encode_entry(serial_hex: str, revoked_at: datetime, reason: str) -> bytes:
    """DER of one revokedCertificates element: serial, revocation date (UTC), CRLReason extension."""
    serial_der = integer(int(serial_hex, 16))
    extensions = _REASON_EXTENSIONS.get(reason) or _REASON_EXTENSIONS["unspecified"]
    return tlv(0x30, serial_der + crl_time(revoked_at) + extensions)


def _tbs_fields(crl_der: bytes) -> tuple[list[tuple[int, int]], int, bytes]:
    """([(start, end) of each TBSCertList field], end of the TBSCertList, signatureAlgorithm DER)."""
    _, body, _ = read(crl_der, 0)
    _, offset, tbs_len = read(crl_der, body)
    tbs_end = offset + tbs_len
    _, alg_body, alg_len = read(crl_der, tbs_end)
    fields = []
    while offset < tbs_end:
        _, content, length = read(crl_der, offset)
        fields.append((offset, content + length))
        offset = content + length
    return fields, tbs_end, crl_der[tbs_end : alg_body + alg_len]


def entries_of(crl_der: bytes) -> bytes:
    """The concatenated revokedCertificates elements of a DER CRL (empty when it has none)."""
    if not crl_der:
        return b""
    fields, _, _ = _tbs_fields(crl_der)
    # version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates (a SEQUENCE) if present.
    if len(fields) > 5 and crl_der[fields[5][0]] == 0x30:
        start, end = fields[5]
        return crl_der[read(crl_der, start)[1] : end]
    return b""


def _sign(private_key, data: bytes, algorithm) -> bytes:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(algorithm))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return private_key.sign(data)
    raise TypeError(f"unsupported CA key type {type(private_key).__name__}")


def build_crl_from_entries(
    ca: CAMaterial, entries: bytes, *, crl_number: int, this_update: datetime, next_update: datetime
) -> bytes:
    """DER CRL signed by the CA over already-encoded entries (`encode_entry` outputs, concatenated)."""
    empty = (
        x509.CertificateRevocationListBuilder(
            issuer_name=ca.subject,
            last_update=this_update,
            next_update=next_update,
            extensions=[
                x509.Extension(x509.AuthorityKeyIdentifier.oid, False, ca.authority_key_identifier),
                x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(crl_number)),
            ],
        )
        .sign(ca.private_key, ca.signature_algorithm)
        .public_bytes(serialization.Encoding.DER)
    )
    if not entries:
        return empty
    fields, tbs_end, algorithm = _tbs_fields(empty)
    # The entries go right after nextUpdate (the fifth field), before the [0] crlExtensions.
    start, split = fields[0][0], fields[4][1]
    tbs = tlv(0x30, empty[start:split] + tlv(0x30, entries) + empty[split:tbs_end])
    signature = _sign(ca.private_key, tbs, ca.signature_algorithm)
    return tlv(0x30, tbs + algorithm + tlv(0x03, b"\x00" + signature))


def build_crl(
    ca: CAMaterial,
    revocations: Iterable[tuple[str, datetime, str]],
    *,
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """DER CRL signed by the CA; `revocations` yields (serial hex, revoked_at, reason name)."""
    entries = b"".join(encode_entry(serial, revoked_at, reason) for serial, revoked_at, reason in revocations)
    return build_crl_from_entries(
        ca, entries, crl_number=crl_number, this_update=this_update, next_update=next_update
    )


def der_to_pem(der: bytes) -> bytes:
    return x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
