"""Create, update and archive managed certificates, each change audited in its own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from certificates.enums import CertificateStatus
from certificates.inventory.models import DeploymentTarget, ManagedCertificate, Owner, Team
from notifications.services.incidents import resolve_incidents


class InventoryError(Exception):
    """A change the inventory refuses (the API answers 400)."""


def _actor_kwargs(actor: str, actor_type: str) -> dict[str, str]:
    return {"actor": actor, "actor_type": actor_type}


def _check_status_change(old: str, new: str) -> None:
    if new == old:
        return
    if new == CertificateStatus.REVOKED:
        raise InventoryError("status Revoked is set by POST /certificates/{id}/revoke, not by an update")
    if old in (CertificateStatus.REVOKED, CertificateStatus.ARCHIVED):
        raise InventoryError(f"the status of a {old} certificate cannot change")


def create_certificate(
    fields: dict[str, Any],
    *,
    targets: Iterable[DeploymentTarget] | None = None,
    actor: str = "system",
    actor_type: str = "System",
) -> ManagedCertificate:
    """Add a certificate to the inventory (status Pending unless given) and audit `certificate_created`."""
    if fields.get("status") == CertificateStatus.REVOKED:
        raise InventoryError(
            "a certificate is revoked by POST /certificates/{id}/revoke, not created revoked"
        )
    with transaction.atomic():
        certificate = ManagedCertificate.objects.create(**fields)
        if targets is not None:
            certificate.targets.set(targets)
        record(
            "certificate_created",
            resource_type="certificate",
            resource_id=certificate.id,
            details={"name": certificate.name, "common_name": certificate.common_name},
            **_actor_kwargs(actor, actor_type),
        )
    return certificate


def update_certificate(
    certificate: ManagedCertificate,
    changes: dict[str, Any],
    *,
    targets: Iterable[DeploymentTarget] | None = None,
    actor: str = "system",
    actor_type: str = "System",
) -> ManagedCertificate:
    """Apply `changes` (field -> value) and audit `certificate_updated` with the changed field names.

    A status change is recorded as `"Active -> Expiring"`. Revocation has its own service; a revoked or
    archived certificate's status is not changed here.
    """
    with transaction.atomic():
        locked = ManagedCertificate.objects.select_for_update().get(pk=certificate.pk)
        old_status = locked.status
        _check_status_change(old_status, changes.get("status", old_status))
        changed = sorted(name for name, value in changes.items() if getattr(locked, name) != value)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save()
        if targets is not None:
            target_list = list(targets)
            if {t.pk for t in target_list} != set(locked.targets.values_list("pk", flat=True)):
                changed.append("target_ids")
            locked.targets.set(target_list)
        details: dict[str, Any] = {"changed": changed}
        if locked.status != old_status:
            details["status"] = f"{old_status} -> {locked.status}"
            if locked.status == CertificateStatus.ARCHIVED:
                resolve_incidents(locked.pk, reason="archived", name=locked.name)
        record(
            "certificate_updated",
            resource_type="certificate",
            resource_id=locked.id,
            details=details,
            **_actor_kwargs(actor, actor_type),
        )
    return locked


def archive_certificate(
    certificate: ManagedCertificate,
    *,
    actor: str = "system",
    actor_type: str = "System",
    now: datetime | None = None,
) -> bool:
    """Archive a certificate (the API's DELETE); idempotent, returns False when it was already archived."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = ManagedCertificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.status == CertificateStatus.ARCHIVED:
            return False
        old_status = locked.status
        ManagedCertificate.objects.filter(pk=locked.pk).update(
            status=CertificateStatus.ARCHIVED, updated_at=now
        )
        resolve_incidents(locked.pk, reason="archived", name=locked.name, now=now)
        record(
            "certificate_archived",
            resource_type="certificate",
            resource_id=locked.id,
            details={"status": f"{old_status} -> {CertificateStatus.ARCHIVED}"},
            now=now,
            **_actor_kwargs(actor, actor_type),
        )
    return True


def reassign_certificates(
    certificate_ids: list[str],
    owner: Owner,
    *,
    team: Team | None = None,
    actor: str = "system",
    actor_type: str = "System",
    now: datetime | None = None,
) -> int:
    """Give certificates a new owner (and team, if given) in one transaction; one audit event per certificate.

    Unknown ids raise InventoryError naming them, and nothing changes. Returns how many certificates changed.
    """
    now = now or timezone.now()
    wanted = list(dict.fromkeys(certificate_ids))
    with transaction.atomic():
        rows = list(
            ManagedCertificate.objects.select_for_update()
            .filter(pk__in=wanted)
            .order_by("pk")
            .values_list("pk", "owner_id", "team_id")
        )
        missing = sorted(set(wanted) - {pk for pk, _, _ in rows})
        if missing:
            raise InventoryError(f"unknown certificate ids: {', '.join(missing[:20])}")
        changes: dict[str, Any] = {"owner_id": owner.pk, "updated_at": now}
        if team is not None:
            changes["team_id"] = team.pk
        ManagedCertificate.objects.filter(pk__in=wanted).update(**changes)
        for pk, old_owner, old_team in rows:
            details: dict[str, Any] = {"changed": [], "bulk_reassign": True}
            if old_owner != owner.pk:
                details["changed"].append("owner")
                details["owner"] = f"{old_owner} -> {owner.pk}"
            if team is not None and old_team != team.pk:
                details["changed"].append("team")
                details["team"] = f"{old_team} -> {team.pk}"
            record(
                "certificate_updated",
                resource_type="certificate",
                resource_id=pk,
                details=details,
                now=now,
                **_actor_kwargs(actor, actor_type),
            )
    return len(rows)
