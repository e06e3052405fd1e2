"""OpsGenie Alert API v2: `alias` (the row's incident key) makes every threshold of one certificate and expiry
one OpsGenie alert; an IncidentResolved row closes it (`POST {api_url}/{alias}/close?identifierType=alias`)."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.channels.pagerduty import alert_key
from notifications.channels.targets import Target
from notifications.enums import NotificationType, SeverityTier
from notifications.models import NotificationEvent

MESSAGE_MAX = 130
DESCRIPTION_MAX = 15000
NOTE_MAX = 25000
# A critical alert pages at the highest priority whatever the destination's default.
TIER_PRIORITY = {SeverityTier.CRITICAL: "P1"}


def api_url(target: Target) -> str:
    return (target.get("api_url") or settings.OPSGENIE_API_URL).rstrip("/")


class OpsGenieChannel(Channel):
    name = "OpsGenie"

    def missing(self, target: Target) -> list[str]:
        return [] if target.get("api_key") else ["api_key"]

    def payload(self, event: NotificationEvent, target: Target) -> dict:
        if event.type == NotificationType.INCIDENT_RESOLVED:
            return {"source": "certctl", "user": "certctl", "note": event.message[:NOTE_MAX]}
        details = {"recipient": event.recipient, "type": event.type}
        if event.certificate_id:
            details["certificate_id"] = event.certificate_id
        priority = target.get("priority") or settings.OPSGENIE_PRIORITY
        return {
            "message": subject_of(event)[:MESSAGE_MAX],
            "alias": alert_key(event),
            "description": event.message[:DESCRIPTION_MAX],
            "priority": TIER_PRIORITY.get(event.severity_tier, priority),
            "source": "certctl",
            "tags": ["certctl", event.type],
            "details": details,
        }

    def url(self, event: NotificationEvent, target: Target) -> str:
        if event.type == NotificationType.INCIDENT_RESOLVED:
            return f"{api_url(target)}/{quote(alert_key(event), safe='')}/close?identifierType=alias"
        return api_url(target)

    def send(self, event: NotificationEvent, target: Target) -> None:
        post_json(
            self.url(event, target),
            body=json_bytes(self.payload(event, target)),
            secrets=target.secret_values(),
            headers={"Authorization": f"GenieKey {target.get('api_key')}"},
        )
