"""What the rules judge, read in bulk: discovered certificates from their stored facts (no parsing), managed ones
from their current version's leaf (parsed once), each with the chain problems scans saw where it is served."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.apps import apps
from django.db.models import OuterRef, Subquery

from certctl.kernel.certificate_facts import (
    NotACertificate,
    hash_of_signature_name,
    load_certificate,
    read_facts,
)
from certificates.compliance.services.rules import Subject
from certificates.enums import CertificateStatus
from certificates.inventory.models import CertificateVersion, ManagedCertificate

# Managed certificates in these states hold no open violations: they are out of service.
RETIRED = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)
# Discovery's tables are reached by name (apps.get_model): discovery services call compliance services, so compliance
# imports no discovery module (the acyclic-siblings contract in .importlinter).
# Discovered certificates are judged only while unmanaged (a claimed one's managed certificate is judged instead).
UNMANAGED = "Unmanaged"


@dataclass(frozen=True)
class Judged:
    """One certificate to evaluate: its team, and its Subject, or None when it must hold no violation (retired,
    claimed, dismissed, not issued yet)."""

    id: str
    team_id: str | None
    subject: Subject | None
    label: str = ""
    owner_email: str = ""


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
                signature_hash=hash_of_signature_name(row["signature_algorithm"]),
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
        facts = read_facts(load_certificate(pem.encode()))
    except NotACertificate:
        return None
    return Subject(
        common_name=facts.common_name,
        issuer_dn=facts.issuer_dn,
        sans=facts.sans,
        not_before=facts.not_before,
        not_after=facts.not_after,
        key_algorithm=facts.key_algorithm,
        key_size=facts.key_size,
        curve=facts.curve,
        signature_hash=facts.signature_hash,
        is_self_signed=facts.is_self_signed,
        fingerprint_sha256=fingerprint or facts.fingerprint_sha256,
        issuer_id=issuer_id or "",
        chain_problems=list(chain_problems or []),
    )
