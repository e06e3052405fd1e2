"""The discovered inventory's state changes: assign an owner or team, dismiss, restore, acknowledge a changed
endpoint, alert when a managed certificate was replaced at an endpoint, and the summary counts.

Claiming (turning a discovered certificate into a managed one) is services/claim.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services.record import record as audit
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoveryStatus,
    ScanRun,
)
from certificates.inventory.models import Owner, Team
from notifications.enums import KIND_CHANNEL, Channel, NotificationType, SeverityTier, builtin_destination_id
from notifications.models import Destination
from notifications.services.outbox import enqueue

# "Expiring soon" in the summary: the default renewal policy thresholds' largest (docs: discovered alerts).
EXPIRING_SOON_DAYS = 30


class DiscoveryStateError(Exception):
    """A transition the discovered certificate's status does not allow (the API answers 409)."""


def _locked(certificate_id: str) -> DiscoveredCertificate:
    return DiscoveredCertificate.objects.select_for_update().get(pk=certificate_id)


def assign(
    certificate: DiscoveredCertificate,
    changes: dict[str, Owner | Team | None],
    *,
    actor: str = "system",
    actor_type: str = "System",
) -> DiscoveredCertificate:
    """Set the owner and/or team of a discovered certificate without claiming it: its expiry alerts route to them."""
    with transaction.atomic():
        locked = _locked(certificate.pk)
        details: dict[str, Any] = {"changed": []}
        for name in ("owner", "team"):
            if name not in changes:
                continue
            new = changes[name]
            old_id = getattr(locked, f"{name}_id")
            if old_id != (new.pk if new else None):
                details["changed"].append(name)
                details[name] = f"{old_id} -> {new.pk if new else None}"
            setattr(locked, name, new)
        locked.save(update_fields=["owner", "team", "updated_at"])
        audit(
            "discovered_certificate_updated",
            resource_type="discovered_certificate",
            resource_id=locked.pk,
            actor=actor,
            actor_type=actor_type,
            details=details,
        )
    return locked


def dismiss(
    certificate: DiscoveredCertificate,
    reason: str,
    *,
    actor: str = "system",
    actor_type: str = "System",
    now: datetime | None = None,
) -> DiscoveredCertificate:
    """Dismiss an unmanaged certificate (no alerts, hidden from the default list); idempotent when dismissed."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(certificate.pk)
        if locked.status == DiscoveryStatus.DISMISSED:
            return locked
        if locked.status == DiscoveryStatus.MANAGED:
            raise DiscoveryStateError(
                f"{locked.pk} is managed (as {locked.managed_certificate_id}); archive that certificate instead"
            )
        locked.status = DiscoveryStatus.DISMISSED
        locked.dismissed_at, locked.dismissed_by, locked.dismissed_reason = now, actor, reason
        locked.save(
            update_fields=["status", "dismissed_at", "dismissed_by", "dismissed_reason", "updated_at"]
        )
        audit(
            "discovered_certificate_dismissed",
            resource_type="discovered_certificate",
            resource_id=locked.pk,
            actor=actor,
            actor_type=actor_type,
            details={"reason": reason, "fingerprint_sha256": locked.fingerprint_sha256},
            now=now,
        )
    return locked


def restore(
    certificate: DiscoveredCertificate, *, actor: str = "system", actor_type: str = "System"
) -> DiscoveredCertificate:
    """Bring a dismissed certificate back to Unmanaged; idempotent when it is Unmanaged already."""
    with transaction.atomic():
        locked = _locked(certificate.pk)
        if locked.status == DiscoveryStatus.UNMANAGED:
            return locked
        if locked.status == DiscoveryStatus.MANAGED:
            raise DiscoveryStateError(f"{locked.pk} is managed (as {locked.managed_certificate_id})")
        reason = locked.dismissed_reason
        locked.status = DiscoveryStatus.UNMANAGED
        locked.dismissed_at, locked.dismissed_by, locked.dismissed_reason = None, "", ""
        locked.save(
            update_fields=["status", "dismissed_at", "dismissed_by", "dismissed_reason", "updated_at"]
        )
        audit(
            "discovered_certificate_restored",
            resource_type="discovered_certificate",
            resource_id=locked.pk,
            actor=actor,
            actor_type=actor_type,
            details={"dismissed_reason": reason},
        )
    return locked


def acknowledge_change(
    endpoint: DiscoveryEndpoint,
    *,
    actor: str = "system",
    actor_type: str = "System",
    now: datetime | None = None,
) -> bool:
    """Clear an endpoint's "changed" flag; False when there was nothing to acknowledge (idempotent)."""
    now = now or timezone.now()
    with transaction.atomic():
        updated = DiscoveryEndpoint.objects.filter(
            pk=endpoint.pk, changed_at__isnull=False, change_acknowledged_at__isnull=True
        ).update(change_acknowledged_at=now)
        if updated:
            audit(
                "discovery_endpoint_change_acknowledged",
                resource_type="discovery_endpoint",
                resource_id=endpoint.pk,
                actor=actor,
                actor_type=actor_type,
                details={"endpoint": endpoint.key, "changed_at": endpoint.changed_at.isoformat()},
                now=now,
            )
    endpoint.refresh_from_db()
    return bool(updated)


def changed_endpoints() -> Q:
    """Endpoints whose certificate changed and nobody acknowledged it yet."""
    return Q(changed_at__isnull=False, change_acknowledged_at__isnull=True)


def summary(now: datetime | None = None) -> dict[str, Any]:
    """Counts for the discovery overview: by status, expiring soon, weak, self-signed, changed endpoints."""
    now = now or timezone.now()
    unmanaged = Q(status=DiscoveryStatus.UNMANAGED)
    counts = DiscoveredCertificate.objects.aggregate(
        total=Count("id"),
        unmanaged=Count("id", filter=unmanaged),
        managed=Count("id", filter=Q(status=DiscoveryStatus.MANAGED)),
        dismissed=Count("id", filter=Q(status=DiscoveryStatus.DISMISSED)),
        expired=Count("id", filter=unmanaged & Q(not_after__lte=now)),
        expiring_soon=Count(
            "id",
            filter=unmanaged & Q(not_after__gt=now, not_after__lte=now + timedelta(days=EXPIRING_SOON_DAYS)),
        ),
        weak=Count("id", filter=unmanaged & Q(is_weak=True)),
        self_signed=Count("id", filter=unmanaged & Q(is_self_signed=True)),
    )
    last_scan = (
        ScanRun.objects.order_by("-created_at", "-id")
        .values("id", "status", "created_at", "finished_at")
        .first()
    )
    return {
        "by_status": {
            DiscoveryStatus.UNMANAGED.value: counts["unmanaged"],
            DiscoveryStatus.MANAGED.value: counts["managed"],
            DiscoveryStatus.DISMISSED.value: counts["dismissed"],
        },
        "total": counts["total"],
        "expired": counts["expired"],
        "expiring_soon": counts["expiring_soon"],
        "expiring_soon_days": EXPIRING_SOON_DAYS,
        "weak": counts["weak"],
        "self_signed": counts["self_signed"],
        "changed_endpoints": DiscoveryEndpoint.objects.filter(changed_endpoints()).count(),
        "last_scan": last_scan,
    }


def alert_managed_replaced(
    endpoint: DiscoveryEndpoint, previous: DiscoveredCertificate | None, current: DiscoveredCertificate
) -> int:
    """An endpoint that served a managed certificate now serves one that is not a version of it: warn the
    managed certificate's owner (email) and its team's destinations (or the default destinations), once per
    (endpoint, new certificate, destination). Returns how many notifications were written."""
    if previous is None or previous.status != DiscoveryStatus.MANAGED or not previous.managed_certificate_id:
        return 0
    if current.managed_certificate_id == previous.managed_certificate_id:
        return 0  # a renewal of the same managed certificate was deployed: expected
    managed = previous.managed_certificate
    if managed is None:
        return 0
    tier = SeverityTier.WARNING
    destinations = [
        d
        for d in Destination.objects.filter(team_id=managed.team_id, enabled=True)
        if not d.tiers or tier in d.tiers
    ]
    if not destinations:
        destinations = [
            d
            for d in Destination.objects.filter(is_default=True, team__isnull=True, enabled=True)
            if not d.tiers or tier in d.tiers
        ]
    where = str(endpoint)
    subject = f"[certctl] warning: certificate {managed.name} was replaced at {where}"
    message = "\n".join(
        [
            f"[WARNING] {where} no longer serves the managed certificate {managed.name}.",
            "",
            f"Managed certificate: {managed.name} ({managed.common_name})",
            f"Now served: {current.common_name or current.subject} (SHA-256 {current.fingerprint_sha256})",
            f"Issuer: {current.issuer_dn}",
            f"Expires: {current.not_after:%Y-%m-%d %H:%M} UTC",
            f"Endpoint: {endpoint.key}",
        ]
    )
    targets: list[tuple[str, str, str | None, str]] = [
        (Channel.EMAIL, managed.owner.email, builtin_destination_id(Channel.EMAIL), "owner")
    ]
    targets += [(KIND_CHANNEL[d.kind], d.name, d.pk, d.name) for d in destinations if d.kind in KIND_CHANNEL]
    written = 0
    for channel, recipient, destination_id, route in targets:
        stored = Destination.objects.filter(pk=destination_id).exists() if destination_id else False
        event = enqueue(
            type=NotificationType.DEPLOYMENT_FAILURE,
            channel=channel,
            recipient=recipient,
            subject=subject,
            message=message,
            certificate_id=managed.pk,
            severity_tier=tier,
            dedup_key=f"endpoint-replaced:{endpoint.pk}:{current.pk}:{route}"[:255],
            destination_id=destination_id if stored else None,
            destination_name=recipient if route != "owner" else "",
        )
        written += event is not None
    return written
