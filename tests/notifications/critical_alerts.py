"""Critical expiry alert rows as the expiry check writes them, for the escalation and acknowledgement tests."""

from __future__ import annotations

from datetime import datetime

from notifications.enums import (
    CHANNEL_KIND,
    Channel,
    DestinationSource,
    NotificationStatus,
    NotificationType,
    builtin_destination_id,
)
from notifications.models import Destination, NotificationEvent


def ensure_builtin_destinations() -> None:
    """The six built-in destinations a migration creates (a transactional test's flush removes them)."""
    for channel in Channel.values:
        Destination.objects.get_or_create(
            pk=builtin_destination_id(channel),
            defaults={
                "name": f"{channel} (environment)",
                "kind": CHANNEL_KIND[channel],
                "source": DestinationSource.ENVIRONMENT,
            },
        )


def incident_key(certificate) -> str:
    return f"certctl-{certificate.id}-{certificate.expires_at.strftime('%Y%m%dT%H%M%SZ')}"


def critical_alert(
    certificate, *, channel: str = Channel.EMAIL, escalation_due_at: datetime | None = None, **fields
) -> NotificationEvent:
    """A sent critical (0-day) alert for the certificate's current expiry, to a channel's built-in destination."""
    ensure_builtin_destinations()
    stamp = certificate.expires_at.strftime("%Y%m%dT%H%M%S.%fZ")
    values = {
        "type": NotificationType.EXPIRATION_WARNING,
        "certificate": certificate,
        "channel": channel,
        "destination_id": builtin_destination_id(channel),
        "destination_name": f"{channel} (environment)",
        "recipient": certificate.owner.email if channel == Channel.EMAIL else channel,
        "subject": f"[certctl] critical: certificate {certificate.name} expires within a day",
        "message": f"[CRITICAL] certificate {certificate.name} expires within a day.",
        "severity_tier": "critical",
        "threshold_days": 0,
        "dedup_key": f"expiry:{certificate.id}:{stamp}:0:{channel}",
        "incident_key": incident_key(certificate),
        "status": NotificationStatus.SENT,
        "escalation_due_at": escalation_due_at,
        **fields,
    }
    return NotificationEvent.objects.create(**values)
