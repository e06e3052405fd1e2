"""Checking a CSR against its certificate and profile, and deciding what the leaf will contain."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

from certificates.inventory.models import (
    DEFAULT_MAX_RSA_KEY_SIZE,
    DEFAULT_MAX_SANS,
    CertificateProfile,
    ManagedCertificate,
)
from certificates.issuance.issuers.local import EKU_OIDS

DEFAULT_EKUS = ["serverAuth", "clientAuth"]  # no profile: what the reference's local CA issues
_EKU_NAMES = {oid: name for name, oid in EKU_OIDS.items()}


class IssuanceError(Exception):
    """Issuance refused or failed; the message is safe to show to the caller (API 400)."""

    code = "issuance_error"


class CSRInvalid(IssuanceError):
    code = "csr_invalid"


class ProfileViolation(IssuanceError):
    code = "profile_violation"


@dataclass(frozen=True)
class LeafPlan:
    csr: x509.CertificateSigningRequest
    subject: x509.Name
    dns_names: list[str]
    ip_addresses: list[str]
    emails: list[str]
    ekus: list[str]
    must_staple: bool
    validity: timedelta
    key_algorithm: str
    key_size: int


def parse_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    if not isinstance(csr_pem, str) or "BEGIN CERTIFICATE REQUEST" not in csr_pem:
        raise CSRInvalid(
            "csr_pem must be a PEM-encoded PKCS#10 request (-----BEGIN CERTIFICATE REQUEST-----)"
        )
    try:
        csr = x509.load_pem_x509_csr(csr_pem.strip().encode())
    except ValueError as exc:
        raise CSRInvalid(f"the CSR cannot be parsed: {exc}") from exc
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError) as exc:
        raise CSRInvalid(f"the CSR signature cannot be checked: {exc}") from exc
    if not valid:
        raise CSRInvalid(
            "the CSR signature does not verify (the request was altered or signed with another key)"
        )
    return csr


def key_of(csr: x509.CertificateSigningRequest) -> tuple[str, int]:
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    raise CSRInvalid(
        f"unsupported public key type {type(key).__name__} (RSA, ECDSA and Ed25519 are supported)"
    )


def _check_key(profile: CertificateProfile | None, algorithm: str, size: int) -> None:
    allowed = (
        profile.allowed_key_algorithms
        if profile
        else [{"algorithm": "ECDSA", "min_size": 256}, {"algorithm": "RSA", "min_size": 2048}]
    )
    rules = [rule for rule in allowed if rule.get("algorithm") == algorithm]
    described = ", ".join(f"{r['algorithm']} >= {r.get('min_size', 0)}" for r in allowed)
    if not rules:
        raise ProfileViolation(
            f"key algorithm {algorithm} is not allowed by the profile (allowed: {described})"
        )
    if not any(size >= rule.get("min_size", 0) for rule in rules):
        raise ProfileViolation(
            f"{algorithm} key of {size} bits is below the profile minimum (allowed: {described})"
        )
    max_rsa = profile.max_rsa_key_size if profile else DEFAULT_MAX_RSA_KEY_SIZE
    if algorithm == "RSA" and size > max_rsa:
        raise ProfileViolation(
            f"RSA key of {size} bits is above the {_whose(profile)} maximum max_rsa_key_size={max_rsa}"
        )


def _whose(profile: CertificateProfile | None) -> str:
    return f"profile {profile.name!r}" if profile else "default (no profile)"


def _classify(names: list[str]) -> tuple[list[str], list[str], list[str]]:
    dns, ips, emails = [], [], []
    for name in names:
        # An IP literal is dotted decimal or has a colon; trying ip_address on every DNS name costs a raise.
        if ":" in name or name.replace(".", "").isdigit():
            try:
                ips.append(str(ipaddress.ip_address(name)))
                continue
            except ValueError:
                pass
        (emails if "@" in name else dns).append(name)
    return dns, ips, emails


def _csr_names(csr: x509.CertificateSigningRequest) -> list[str]:
    names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    except ValueError as exc:
        raise CSRInvalid(f"the CSR's subjectAltName cannot be read: {exc}") from exc
    names += san.get_values_for_type(x509.DNSName)
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    names += san.get_values_for_type(x509.RFC822Name)
    return names


def _requested_ekus(csr: x509.CertificateSigningRequest) -> list[str]:
    try:
        usages = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in usages]


def plan_leaf(certificate: ManagedCertificate, csr: x509.CertificateSigningRequest) -> LeafPlan:
    """Check the CSR against the certificate's names and its profile; raise ProfileViolation with the reason."""
    profile = certificate.profile
    if profile is not None and not profile.enabled:
        raise ProfileViolation(f"profile {profile.name!r} is disabled")
    algorithm, size = key_of(csr)
    _check_key(profile, algorithm, size)

    allowed = [certificate.common_name, *certificate.sans]
    names = list(dict.fromkeys(n.lower() if "@" not in n else n for n in allowed))
    # Checked before the names are matched against the CSR and the patterns, which cost per name.
    max_sans = profile.max_sans if profile else DEFAULT_MAX_SANS
    if len(names) > max_sans:
        raise ProfileViolation(
            f"the certificate has {len(names)} names (common name and SANs), above the {_whose(profile)} "
            f"maximum max_sans={max_sans}"
        )
    csr_names = _csr_names(csr)
    requested = {n.lower() for n in csr_names}
    if len(requested) > max_sans:
        raise ProfileViolation(
            f"the CSR asks for {len(requested)} names, above the {_whose(profile)} maximum max_sans={max_sans}"
        )
    allowed_lower = {n.lower() for n in allowed}
    extra = [n for n in csr_names if n.lower() not in allowed_lower]
    if extra:
        raise ProfileViolation(
            f"the CSR asks for names that are not on the certificate: {', '.join(sorted(set(extra)))} "
            f"(allowed: {', '.join(allowed)})"
        )
    not_ascii = [n for n in names if not n.isascii()]
    if not_ascii:
        raise ProfileViolation(f"names must be ASCII (use the IDNA/punycode form): {', '.join(not_ascii)}")
    patterns = profile.required_san_patterns if profile else []
    if patterns:
        misfits = [n for n in names if not any(re.fullmatch(p, n) for p in patterns)]
        if misfits:
            raise ProfileViolation(
                f"names {', '.join(misfits)} do not match the profile's required SAN patterns ({', '.join(patterns)})"
            )

    ekus = list(profile.allowed_ekus) if profile and profile.allowed_ekus else list(DEFAULT_EKUS)
    refused = [e for e in _requested_ekus(csr) if e not in ekus]
    if refused:
        raise ProfileViolation(
            f"the CSR requests extended key usages the profile does not allow: {', '.join(refused)}"
        )

    validity = timedelta(days=settings.CA_DEFAULT_LEAF_VALIDITY_DAYS)
    if profile and profile.max_ttl_seconds:
        validity = min(validity, timedelta(seconds=profile.max_ttl_seconds))

    subject = csr.subject
    if not subject.get_attributes_for_oid(NameOID.COMMON_NAME) and len(certificate.common_name) <= 64:
        subject = x509.Name([*subject, x509.NameAttribute(NameOID.COMMON_NAME, certificate.common_name)])
    dns, ips, emails = _classify(names)
    return LeafPlan(
        csr=csr,
        subject=subject,
        dns_names=dns,
        ip_addresses=ips,
        emails=emails,
        ekus=ekus,
        must_staple=bool(profile and profile.must_staple),
        validity=validity,
        key_algorithm=algorithm,
        key_size=size,
    )
