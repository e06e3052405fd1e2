"""The alert routes of one certificate as the API answers them (and the certificate page shows them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from certificates.expiry.services.routes import RESOLUTION_ORDER, RouteEntry, resolve_routes
from certificates.expiry.services.routing import days_left
from certificates.inventory.models import ManagedCertificate
from notifications.services.quiet import quiet_until

RULES = (
    "Each destination gets one alert per certificate, expiry and threshold.",
    "Per check run a destination gets only the most urgent threshold that has fired; less urgent ones are implied.",
    "Once expired, the certificate gets its own critical EXPIRED alert (days -1), even after the 0-day alert.",
    "A non-critical alert waits for the end of the team's quiet hours; a critical one goes at once.",
    "With the team's daily digest on, its own destinations get non-critical alerts in the digest instead.",
)


def alert_routes(certificate: ManagedCertificate, now: datetime) -> dict[str, Any]:
    """Per threshold of the policy (then EXPIRED): tier, whether it fired, and every destination considered."""
    team = certificate.team
    until = quiet_until(team, now)
    payload: dict[str, Any] = {
        "certificate_id": certificate.id,
        "expires_at": _iso(certificate.expires_at),
        "days_left": days_left(certificate.expires_at, now) if certificate.expires_at else None,
        "checked_at": _iso(now),
        "policy": {"id": certificate.renewal_policy_id, "name": certificate.renewal_policy.name},
        "team": {"id": team.id, "name": team.name},
        "owner_email": certificate.owner.email,
        "quiet_hours": {
            "configured": team.quiet_hours_start is not None and team.quiet_hours_end is not None,
            "start": _hhmm(team.quiet_hours_start),
            "end": _hhmm(team.quiet_hours_end),
            "timezone": team.timezone,
            "active": until is not None,
            "until": _iso(until),
        },
        "digest_enabled": team.digest_enabled,
        "resolution_order": list(RESOLUTION_ORDER),
        "rules": list(RULES),
        "thresholds": [
            {
                "days": route.threshold,
                "label": route.label,
                "tier": route.tier,
                "fired": route.fired,
                "destinations": [
                    _destination(entry, certificate.owner.email) for entry in route.destinations
                ],
            }
            for route in resolve_routes(certificate, now)
        ],
    }
    return payload


def _destination(entry: RouteEntry, owner_email: str) -> dict[str, Any]:
    return {
        "id": entry.destination_id,
        "name": entry.name,
        "kind": entry.kind,
        "source": entry.source,
        "reason": entry.reason,
        "included": entry.included,
        "skipped_reason": entry.skipped_reason,
        "recipient": entry.recipient_for(owner_email) if entry.included else "",
        "deferred_until": _iso(entry.deferred_until),
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _hhmm(value) -> str | None:
    return value.strftime("%H:%M") if value else None
