"""What a certificate says about itself, read once from its DER: the fields discovery stores and the compliance
rules judge (in the kernel, so both read certificates the same way)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

WEAK_HASHES = frozenset({"md5", "sha1"})
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256


class NotACertificate(ValueError):
    """The bytes are not an X.509 certificate in PEM or DER."""


@dataclass(frozen=True)
class CertificateFacts:
    der: bytes
    fingerprint_sha256: str
    pem: str
    common_name: str
    subject: str
    issuer_dn: str
    sans: list[str]
    serial_number: str
    not_before: datetime
    not_after: datetime
    key_algorithm: str
    key_size: int | None
    curve: str
    signature_algorithm: str
    signature_hash: str  # md5, sha1, sha256, ... or "" for EdDSA
    is_self_signed: bool
    is_ca: bool
    weaknesses: list[str] = field(default_factory=list)

    @property
    def is_weak(self) -> bool:
        return bool(self.weaknesses)

    def model_fields(self) -> dict:
        """The DiscoveredCertificate columns these facts fill."""
        return {
            "pem": self.pem,
            "common_name": self.common_name[:255],
            "subject": self.subject[:1024],
            "issuer_dn": self.issuer_dn[:1024],
            "sans": self.sans,
            "serial_number": self.serial_number[:64],
            "not_before": self.not_before,
            "not_after": self.not_after,
            "key_algorithm": self.key_algorithm,
            "key_size": self.key_size,
            "curve": self.curve,
            "signature_algorithm": self.signature_algorithm[:64],
            "is_self_signed": self.is_self_signed,
            "is_ca": self.is_ca,
            "is_weak": self.is_weak,
        }


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def load_certificate(data: bytes) -> x509.Certificate:
    """One certificate from PEM or DER bytes (the first one of a PEM bundle)."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise NotACertificate(str(exc)) from exc


def load_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, or the one DER certificate; NotACertificate if there is none."""
    try:
        if b"-----BEGIN CERTIFICATE" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise NotACertificate(str(exc)) from exc


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:  # pragma: no cover - a name cryptography cannot spell
        return ""


def _key_facts(cert: x509.Certificate) -> tuple[str, int | None, str]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):  # an algorithm cryptography does not know
        return ("unknown", None, "")
    if isinstance(key, rsa.RSAPublicKey):
        return ("RSA", key.key_size, "")
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ("ECDSA", key.curve.key_size, key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("Ed25519", 256, "")
    if isinstance(key, ed448.Ed448PublicKey):
        return ("Ed448", 456, "")
    if isinstance(key, dsa.DSAPublicKey):
        return ("DSA", key.key_size, "")
    return ("unknown", None, "")


HASH_NAMES = ("sha224", "sha256", "sha384", "sha512", "sha1", "md5")


def hash_of_signature_name(name: str) -> str:
    """The hash named in a signature algorithm's name (sha1WithRSAEncryption, ecdsa-with-SHA256, ...); "" for none."""
    name = name.lower().replace("-", "")
    return next((candidate for candidate in HASH_NAMES if candidate in name), "")


def _signature_hash(cert: x509.Certificate) -> str:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # UnsupportedAlgorithm and friends: name it from the OID below
        algorithm = None
    if algorithm is not None:
        return algorithm.name
    return hash_of_signature_name(cert.signature_algorithm_oid._name or "")


def _self_signed(cert: x509.Certificate) -> bool:
    """Issued by its own key: the subject names itself as issuer and its own key verifies the signature (or the
    signature uses an algorithm too weak for cryptography to check, SHA-1 or MD5, where the names decide)."""
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (UnsupportedAlgorithm, ValueError):  # ValueError: "Unsupported signature algorithm" (SHA-1, MD5)
        return _signature_hash(cert) in WEAK_HASHES
    except (TypeError, InvalidSignature):
        return False
    return True


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def weaknesses(key_algorithm: str, key_size: int | None, signature_hash: str) -> list[str]:
    found = []
    if key_algorithm == "RSA" and (key_size or 0) < MIN_RSA_BITS:
        found.append(f"RSA-{key_size} key")
    if key_algorithm == "ECDSA" and (key_size or 0) < MIN_EC_BITS:
        found.append(f"EC-{key_size} key")
    if key_algorithm == "DSA":
        found.append("DSA key")
    if signature_hash in WEAK_HASHES:
        found.append(f"{signature_hash.upper()} signature")
    return found


def read_facts(cert: x509.Certificate) -> CertificateFacts:
    der = cert.public_bytes(serialization.Encoding.DER)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    algorithm, size, curve = _key_facts(cert)
    sig_hash = _signature_hash(cert)
    return CertificateFacts(
        der=der,
        fingerprint_sha256=fingerprint(der),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        common_name=str(cns[0].value) if cns else "",
        subject=_name(cert.subject),
        issuer_dn=_name(cert.issuer),
        sans=_sans(cert),
        serial_number=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_size=size,
        curve=curve,
        signature_algorithm=cert.signature_algorithm_oid._name or cert.signature_algorithm_oid.dotted_string,
        signature_hash=sig_hash,
        is_self_signed=_self_signed(cert),
        is_ca=_is_ca(cert),
        weaknesses=weaknesses(algorithm, size, sig_hash),
    )


def facts_from_bytes(data: bytes) -> CertificateFacts:
    return read_facts(load_certificate(data))
