"""`record(...)`: the one way a scan, an agent report or an import stores a certificate it found.

A certificate is one row however often it is seen (unique SHA-256). A place is one row (DiscoveryEndpoint, keyed
`net|address|port|sni` or `agent|agent id|path`), and a sighting links the two with first and last seen. When a
place that served one certificate serves another, the endpoint is flagged (`changed_at`, `previous_certificate`).
Safe under concurrency: every row is created with get_or_create on a unique key and the endpoint is row-locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from audit.services.record import record as audit
from certctl.kernel.certificate_facts import CertificateFacts
from certctl.kernel.crypto import encrypt_bytes
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoverySighting,
    DiscoveryStatus,
    SightingSource,
)
from certificates.discovery.services.inventory import alert_managed_replaced
from certificates.inventory.models import Agent, CertificateVersion


@dataclass(frozen=True)
class Place:
    """Where a certificate was seen: a network endpoint or a file on an agent's host."""

    kind: str  # SightingSource.NETWORK or SightingSource.AGENT
    address: str = ""
    port: int | None = None
    sni: str = ""
    agent: Agent | None = None
    hostname: str = ""
    path: str = ""

    @property
    def key(self) -> str:
        if self.kind == SightingSource.NETWORK:
            return f"net|{self.address}|{self.port}|{self.sni.lower()}"
        return f"agent|{self.agent.pk if self.agent else ''}|{self.path}"


@dataclass(frozen=True)
class Recorded:
    certificate: DiscoveredCertificate
    created: bool
    endpoint: DiscoveryEndpoint | None
    changed: bool  # this place served a different certificate before


def _chain_pem(chain: Sequence[CertificateFacts]) -> str:
    return "".join(item.pem for item in chain)


def _store_certificate(
    facts: CertificateFacts, seen_at: datetime, chain: Sequence[CertificateFacts], actor: str
) -> tuple[DiscoveredCertificate, bool]:
    version = (
        CertificateVersion.objects.filter(fingerprint_sha256=facts.fingerprint_sha256)
        .values_list("certificate_id", flat=True)
        .first()
    )
    defaults = {
        **facts.model_fields(),
        "chain_pem": _chain_pem(chain),
        "first_seen_at": seen_at,
        "last_seen_at": seen_at,
    }
    if version:  # certctl issued it: already managed
        defaults.update(status=DiscoveryStatus.MANAGED, managed_certificate_id=version)
    certificate, created = DiscoveredCertificate.objects.get_or_create(
        fingerprint_sha256=facts.fingerprint_sha256, defaults=defaults
    )
    if created:
        audit(
            "certificate_discovered",
            resource_type="discovered_certificate",
            resource_id=certificate.pk,
            actor=actor,
            details={
                "fingerprint_sha256": facts.fingerprint_sha256,
                "common_name": facts.common_name,
                "not_after": facts.not_after.isoformat(),
                "managed_certificate_id": version or "",
            },
        )
        return certificate, True
    updates = {"last_seen_at": Greatest(F("last_seen_at"), seen_at)}
    if chain:
        updates["chain_pem"] = _chain_pem(chain)
    DiscoveredCertificate.objects.filter(pk=certificate.pk).update(**updates)
    return certificate, False


def _store_endpoint(
    place: Place, certificate: DiscoveredCertificate, seen_at: datetime, protocol: str, chain_problem: str
) -> tuple[DiscoveryEndpoint, bool]:
    endpoint, _ = DiscoveryEndpoint.objects.get_or_create(
        key=place.key,
        defaults={
            "kind": place.kind,
            "address": place.address,
            "port": place.port,
            "sni": place.sni,
            "agent": place.agent,
            "hostname": place.hostname,
            "path": place.path,
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
        },
    )
    endpoint = DiscoveryEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed = bool(endpoint.current_certificate_id and endpoint.current_certificate_id != certificate.pk)
    if seen_at < endpoint.last_seen_at and endpoint.current_certificate_id:
        return endpoint, False  # an older observation arriving late does not move the endpoint back
    if changed:
        endpoint.previous_certificate_id = endpoint.current_certificate_id
        endpoint.changed_at = seen_at
        endpoint.change_acknowledged_at = None
    endpoint.current_certificate = certificate
    endpoint.last_seen_at = seen_at
    endpoint.last_error = ""
    if place.kind == SightingSource.NETWORK:
        endpoint.protocol = protocol
        endpoint.chain_problem = chain_problem
    if place.hostname:
        endpoint.hostname = place.hostname
    endpoint.save()
    return endpoint, changed


def _store_sighting(
    certificate, endpoint, place, facts, chain, seen_at, scan_run_id, key_present, detail
) -> None:
    fields = {
        "chain_fingerprints": [facts.fingerprint_sha256, *(item.fingerprint_sha256 for item in chain)],
        "key_present": key_present,
        "scan_run_id": scan_run_id,
    }
    if endpoint is None:  # an import: one sighting per import, nothing to merge with
        DiscoverySighting.objects.create(
            certificate=certificate,
            source=SightingSource.IMPORT,
            detail=detail[:255],
            first_seen_at=seen_at,
            last_seen_at=seen_at,
            **fields,
        )
        return
    sighting, created = DiscoverySighting.objects.get_or_create(
        certificate=certificate,
        endpoint=endpoint,
        defaults={
            "source": place.kind,
            "detail": detail[:255],
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
            **fields,
        },
    )
    if not created:
        DiscoverySighting.objects.filter(pk=sighting.pk).update(
            last_seen_at=Greatest(F("last_seen_at"), seen_at), **fields
        )


def record(
    facts: CertificateFacts,
    *,
    seen_at: datetime,
    place: Place | None = None,
    chain: Sequence[CertificateFacts] = (),
    protocol: str = "",
    chain_problem: str = "",
    scan_run_id: str | None = None,
    key_present: bool | None = None,
    private_key_pem: bytes | None = None,
    detail: str = "",
    actor: str = "system",
) -> Recorded:
    """Store one found certificate, where it was found (`place`; None for an import) and the chain that came
    with it (intermediates, leaf excluded). `private_key_pem` (imports only) is stored Fernet-encrypted."""
    with transaction.atomic():
        certificate, created = _store_certificate(facts, seen_at, chain, actor)
        if private_key_pem or key_present:
            fields = {"has_private_key": True}
            if private_key_pem:
                fields["encrypted_private_key"] = encrypt_bytes(private_key_pem)
            DiscoveredCertificate.objects.filter(pk=certificate.pk).update(**fields)
        endpoint, changed = None, False
        if place is not None:
            endpoint, changed = _store_endpoint(place, certificate, seen_at, protocol, chain_problem)
        _store_sighting(certificate, endpoint, place, facts, chain, seen_at, scan_run_id, key_present, detail)
        if changed:
            audit(
                "discovered_certificate_changed",
                resource_type="discovery_endpoint",
                resource_id=endpoint.pk,
                actor=actor,
                details={
                    "endpoint": endpoint.key,
                    "previous_certificate_id": endpoint.previous_certificate_id,
                    "certificate_id": certificate.pk,
                },
            )
            # A managed certificate replaced by one that is not a version of it: tell its owner and team.
            alert_managed_replaced(endpoint, endpoint.previous_certificate, certificate)
    if not created:
        certificate.refresh_from_db()
    return Recorded(certificate=certificate, created=created, endpoint=endpoint, changed=changed)
