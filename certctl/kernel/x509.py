"""X.509 building blocks every issuer and responder shares: the signing digest, KeyUsage, AKI, serial spellings."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519


def signature_hash(private_key) -> hashes.HashAlgorithm | None:
    """The digest a CA key signs with: none for EdDSA (the algorithm fixes it), SHA-384 for P-384 and larger, else
    SHA-256. Certificates, CRLs and OCSP responses all use it."""
    if isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A KeyUsage extension value naming only the bits certctl sets; the others are off."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


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
