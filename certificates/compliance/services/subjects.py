"""What the rules judge, read in bulk: discovered certificates from their stored facts (no parsing), managed ones
from their current version's leaf (parsed once), each with the chain problems scans saw where it is served."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from django.apps import apps
from django.db.models import OuterRef, Subquery

from certificates.compliance.services.rules import Subject
from certificates.enums import CertificateStatus
from certificates.inventory.models import CertificateVersion, ManagedCertificate

# Managed certificates in these states hold no open violations: they are out of service.
RETIRED = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)
# Discovery's tables are reached by name (apps.get_model): discovery services call compliance services, so compliance
# imports no discovery module (the acyclic-siblings contract in .importlinter).
# Discovered certificates are judged only while unmanaged (a claimed one's managed certificate is judged instead).
UNMANAGED = "Unmanaged"
HASH_NAMES = ("sha224", "sha256", "sha384", "sha512", "sha1", "md5")


@dataclass(frozen=True)
class Judged:
    """One certificate to evaluate: its team, and its Subject, or None when it must hold no violation (retired,
    claimed, dismissed, not issued yet)."""

    id: str
    team_id: str | None
    subject: Subject | None
    label: str = ""
    owner_email: str = ""


def signature_hash_of(algorithm_name: str) -> str:
    """The hash of a signature algorithm name as stored (sha1WithRSAEncryption, ecdsa-with-SHA256, ...)."""
    name = algorithm_name.lower().replace("-", "")
    return next((candidate for candidate in HASH_NAMES if candidate in name), "")


def _chain_problems(field: str, keys: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    if not keys:
        return found
    endpoints = (
        apps.get_model("certificates", "DiscoveryEndpoint")
        .objects.filter(**{f"{field}__in": list(keys)})
        .exclude(chain_problem="")
        .values_list(field, "chain_problem", "kind", "address", "port", "sni", "hostname", "path")
    )
    for key, problem, kind, address, port, sni, hostname, path in endpoints:
        label = f"{sni or address}:{port}" if kind == "network" else f"{hostname}:{path}"
        found.setdefault(key, []).append((problem, label))
    return found


def discovered(ids: Sequence[str]) -> list[Judged]:
    """The discovered certificates `ids`, from their columns: two queries, whatever their number."""
    rows = (
        apps.get_model("certificates", "DiscoveredCertificate")
        .objects.filter(pk__in=list(ids))
        .values(
            "id",
            "status",
            "team_id",
            "common_name",
            "issuer_dn",
            "sans",
            "not_before",
            "not_after",
            "key_algorithm",
            "key_size",
            "curve",
            "signature_algorithm",
            "is_self_signed",
            "fingerprint_sha256",
            "owner__email",
        )
    )
    rows = list(rows)
    live = [row["id"] for row in rows if row["status"] == UNMANAGED]
    problems = _chain_problems("current_certificate_id", live)
    out = []
    for row in rows:
        subject = None
        if row["status"] == UNMANAGED:
            subject = Subject(
                common_name=row["common_name"],
                issuer_dn=row["issuer_dn"],
                sans=[str(name) for name in row["sans"] or []],
                not_before=row["not_before"],
                not_after=row["not_after"],
                key_algorithm=row["key_algorithm"],
                key_size=row["key_size"],
                curve=row["curve"],
                signature_hash=signature_hash_of(row["signature_algorithm"]),
                is_self_signed=row["is_self_signed"],
                fingerprint_sha256=row["fingerprint_sha256"],
                chain_problems=problems.get(row["id"], []),
            )
        label = row["common_name"] or row["fingerprint_sha256"][:16]
        out.append(Judged(row["id"], row["team_id"], subject, label, row["owner__email"] or ""))
    return out


def managed(ids: Sequence[str]) -> list[Judged]:
    """The managed certificates `ids`, each judged by its current (newest) version's leaf: three queries."""
    current = CertificateVersion.objects.filter(certificate=OuterRef("pk")).order_by("-created_at", "-id")
    rows = list(
        ManagedCertificate.objects.filter(pk__in=list(ids))
        .annotate(current_version=Subquery(current.values("pk")[:1]))
        .values("id", "name", "status", "team_id", "issuer_id", "current_version", "owner__email")
    )
    wanted = [
        row["current_version"] for row in rows if row["current_version"] and row["status"] not in RETIRED
    ]
    versions = {
        pk: (pem, fingerprint, issuer_id)
        for pk, pem, fingerprint, issuer_id in CertificateVersion.objects.filter(pk__in=wanted).values_list(
            "pk", "pem_chain", "fingerprint_sha256", "issuer_id"
        )
    }
    problems = _chain_problems(
        "current_certificate__fingerprint_sha256", [fp for _, fp, _ in versions.values()]
    )
    out = []
    for row in rows:
        version = versions.get(row["current_version"])
        subject = None
        if version is not None:
            pem, fingerprint, issuer_id = version
            subject = subject_from_pem(
                pem,
                fingerprint=fingerprint,
                issuer_id=issuer_id or row["issuer_id"],
                chain_problems=problems.get(fingerprint, []),
            )
        out.append(Judged(row["id"], row["team_id"], subject, row["name"], row["owner__email"] or ""))
    return out


def subject_from_pem(
    pem: str, *, fingerprint: str = "", issuer_id: str = "", chain_problems=None
) -> Subject | None:
    """The Subject of the first certificate of a PEM chain (None when it cannot be read)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    algorithm, size, curve = _key(cert)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return Subject(
        common_name=str(cns[0].value) if cns else "",
        issuer_dn=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_size=size,
        curve=curve,
        signature_hash=signature_hash_of(cert.signature_algorithm_oid._name or ""),
        is_self_signed=_self_signed(cert),
        fingerprint_sha256=fingerprint,
        issuer_id=issuer_id or "",
        chain_problems=list(chain_problems or []),
    )


def _key(cert: x509.Certificate) -> tuple[str, int | None, str]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
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


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [str(n) for n in ext.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in ext.get_values_for_type(x509.IPAddress)
    ]


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (UnsupportedAlgorithm, ValueError):  # SHA-1/MD5 signatures cannot be checked: the names decide
        return True
    except (TypeError, InvalidSignature):
        return False
    return True
