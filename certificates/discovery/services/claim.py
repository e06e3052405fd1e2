"""Claim: turn a discovered certificate into a managed one (or link it to an existing one), in one transaction.

The discovered row is locked (SELECT ... FOR UPDATE) for the whole claim, so two concurrent claims of the same
certificate cannot both create a managed certificate: the second sees it Managed and gets a conflict, unless it
asks for the very link that exists (then it is a no-op that answers the same managed certificate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services.record import record as audit
from certificates.compliance.services.evaluate import evaluate_managed
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoveryStatus,
    SightingSource,
)
from certificates.enums import CertificateSource, CertificateStatus
from certificates.inventory.models import (
    CertificateProfile,
    CertificateVersion,
    DeploymentTarget,
    Issuer,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)
from certificates.inventory.services.certificates import create_certificate
from certificates.issuance.models import ServerGeneratedKey


class ClaimConflict(Exception):
    """The certificate is already managed (by another managed certificate) or its version exists (409)."""


@dataclass
class NewManaged:
    """What the managed certificate created from a discovered one gets."""

    owner: Owner
    team: Team
    renewal_policy: RenewalPolicy
    issuer: Issuer
    name: str = ""
    profile: CertificateProfile | None = None
    environment: str = ""
    targets: list[DeploymentTarget] = field(default_factory=list)


@dataclass
class Claimed:
    managed: ManagedCertificate
    created: bool  # a new managed certificate (False: linked to an existing one, or already claimed)
    endpoints: list[DiscoveryEndpoint]  # where it is deployed now, each with its target when one matched
    private_key_stored: bool = False


def claim(
    certificate: DiscoveredCertificate,
    *,
    link_to: ManagedCertificate | None = None,
    new: NewManaged | None = None,
    actor: str = "system",
    actor_type: str = "System",
    now: datetime | None = None,
) -> Claimed:
    """Link `certificate` to `link_to`, or create a managed certificate from it as `new` says.

    Creating stores a CertificateVersion with the certificate's own facts and chain, keeps an imported private
    key as the version's server key (so export works), sets the status from the expiry, and points the endpoints
    that serve it at the matching targets. Audited as `discovered_certificate_claimed`.
    """
    if (link_to is None) == (new is None):
        raise ValueError("claim needs exactly one of link_to and new")
    now = now or timezone.now()
    with transaction.atomic():
        locked = DiscoveredCertificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.status == DiscoveryStatus.MANAGED:
            if link_to is not None and locked.managed_certificate_id == link_to.pk:
                return Claimed(link_to, False, _endpoints(locked))
            raise ClaimConflict(
                f"{locked.pk} is already managed as {locked.managed_certificate_id or 'a deleted certificate'}"
            )
        existing = (
            CertificateVersion.objects.filter(fingerprint_sha256=locked.fingerprint_sha256)
            .values_list("certificate_id", flat=True)
            .first()
        )
        if existing and (link_to is None or link_to.pk != existing):
            raise ClaimConflict(f"this certificate is already a version of managed certificate {existing}")
        key_stored = False
        if link_to is not None:
            managed, created = link_to, False
        else:
            managed, created = _create_managed(locked, new, actor, actor_type, now), True
            key_stored = _store_version(locked, managed)
        was = locked.status
        locked.status = DiscoveryStatus.MANAGED
        locked.managed_certificate = managed
        locked.claimed_at, locked.claimed_by = now, actor
        locked.dismissed_at, locked.dismissed_by, locked.dismissed_reason = None, "", ""
        if key_stored:
            locked.encrypted_private_key = ""  # the one copy now belongs to the managed certificate's version
        locked.save()
        endpoints = _match_targets(locked, list(managed.targets.all()))
        audit(
            "discovered_certificate_claimed",
            resource_type="discovered_certificate",
            resource_id=locked.pk,
            actor=actor,
            actor_type=actor_type,
            details={
                "managed_certificate_id": managed.pk,
                "created": created,
                "status": f"{was} -> {DiscoveryStatus.MANAGED}",
                "fingerprint_sha256": locked.fingerprint_sha256,
                "endpoint_ids": [endpoint.pk for endpoint in endpoints],
                "private_key_stored": key_stored,
            },
            now=now,
        )
        if created:
            evaluate_managed([managed.pk])
    return Claimed(managed, created, endpoints, key_stored)


def status_for_expiry(not_after: datetime, policy: RenewalPolicy, now: datetime) -> str:
    """Active, Expiring (inside the policy's renewal window) or Expired."""
    if not_after <= now:
        return CertificateStatus.EXPIRED
    if not_after <= now + timedelta(days=policy.renewal_window_days):
        return CertificateStatus.EXPIRING
    return CertificateStatus.ACTIVE


def source_of(certificate: DiscoveredCertificate) -> str:
    """Import when every sighting is an import, Discovery otherwise (seen by a scan or an agent)."""
    sources = set(certificate.sightings.values_list("source", flat=True))
    return CertificateSource.IMPORT if sources == {SightingSource.IMPORT} else CertificateSource.DISCOVERY


def unique_name(wanted: str) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`, ... when that name is taken."""
    base = wanted[:240]
    taken = set(ManagedCertificate.objects.filter(name__startswith=base).values_list("name", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _create_managed(
    certificate: DiscoveredCertificate, new: NewManaged, actor: str, actor_type: str, now: datetime
) -> ManagedCertificate:
    common_name = certificate.common_name or (certificate.sans[0] if certificate.sans else "")
    fields: dict[str, Any] = {
        "name": new.name or unique_name(common_name or certificate.fingerprint_sha256[:16]),
        "common_name": (common_name or certificate.fingerprint_sha256[:16])[:253],
        "sans": list(certificate.sans),
        "environment": new.environment,
        "owner": new.owner,
        "team": new.team,
        "issuer": new.issuer,
        "renewal_policy": new.renewal_policy,
        "profile": new.profile,
        "status": status_for_expiry(certificate.not_after, new.renewal_policy, now),
        "expires_at": certificate.not_after,
        "source": source_of(certificate),
    }
    return create_certificate(fields, targets=new.targets, actor=actor, actor_type=actor_type)


def _store_version(certificate: DiscoveredCertificate, managed: ManagedCertificate) -> bool:
    """The certificate as the managed certificate's first version; an imported key becomes its server key."""
    version = CertificateVersion.objects.create(
        certificate=managed,
        issuer=None,  # issued elsewhere: the managed certificate's issuer renews it from now on
        serial_number=certificate.serial_number,
        not_before=certificate.not_before,
        not_after=certificate.not_after,
        fingerprint_sha256=certificate.fingerprint_sha256,
        pem_chain=certificate.pem + certificate.chain_pem,
        key_algorithm=certificate.key_algorithm,
        key_size=certificate.key_size,
    )
    if not certificate.encrypted_private_key:
        return False
    # Both are Fernet ciphertext under the same key (certctl.kernel.crypto): moved as is, never decrypted.
    ServerGeneratedKey.objects.create(
        version=version, encrypted_private_key=certificate.encrypted_private_key
    )
    return True


def _endpoints(certificate: DiscoveredCertificate) -> list[DiscoveryEndpoint]:
    return list(DiscoveryEndpoint.objects.filter(current_certificate=certificate).order_by("key"))


def _match_targets(
    certificate: DiscoveredCertificate, targets: list[DeploymentTarget]
) -> list[DiscoveryEndpoint]:
    """Point each endpoint that serves this certificate at its target: an agent's file at the one target of
    that agent, a network endpoint at the target named like its SNI, address or `host:port`."""
    endpoints = _endpoints(certificate)
    for endpoint in endpoints:
        if endpoint.target_id:
            continue
        if endpoint.kind == SightingSource.AGENT:
            candidates = [t for t in targets if t.agent_id == endpoint.agent_id]
        else:
            names = {
                n.lower()
                for n in (
                    endpoint.sni,
                    endpoint.address,
                    f"{endpoint.sni or endpoint.address}:{endpoint.port}",
                )
                if n
            }
            candidates = [t for t in targets if t.name.lower() in names]
        if len(candidates) == 1:
            endpoint.target = candidates[0]
            DiscoveryEndpoint.objects.filter(pk=endpoint.pk).update(target=candidates[0])
    return endpoints
