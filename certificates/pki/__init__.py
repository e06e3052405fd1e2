"""Pure X.509 building blocks for revocation (CRL, OCSP, delegated responder): no database, no settings."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from certificates.enums import REVOCATION_REASON_CODES

REASON_FLAGS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "caCompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
assert set(REASON_FLAGS) == set(REVOCATION_REASON_CODES)


def reason_flag(reason: str) -> x509.ReasonFlags:
    """RFC 5280 CRLReason of a stored reason name; unknown names map to unspecified, as in the reference."""
    return REASON_FLAGS.get(reason, x509.ReasonFlags.unspecified)


def signature_hash(private_key) -> hashes.HashAlgorithm | None:
    """The digest to sign with: none for EdDSA keys (the algorithm fixes it), SHA-256 otherwise."""
    if isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    return hashes.SHA256()


def authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def serial_hex(serial: int) -> str:
    """Canonical lower-case hex of a serial, without padding."""
    return format(serial, "x")


def serial_variants(serial: int) -> list[str]:
    """The spellings a stored serial may have (plain, even-length, 40-digit zero-padded), for lookups."""
    plain = serial_hex(serial)
    return sorted({plain, plain.zfill(len(plain) + len(plain) % 2), plain.zfill(40)})
