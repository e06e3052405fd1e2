"""PagerDuty Events API v2: one incident per certificate and alert type, updated by repeats (`dedup_key`)."""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.enums import SeverityTier
from notifications.models import NotificationEvent

TIER_SEVERITY = {
    SeverityTier.CRITICAL: "critical",
    SeverityTier.WARNING: "warning",
    SeverityTier.INFORMATIONAL: "info",
}
SUMMARY_MAX = 1024


def alert_key(event: NotificationEvent) -> str:
    """Stable per certificate and alert type, so later thresholds update the same incident."""
    return f"certctl-{event.certificate_id or event.id}-{event.type}"


class PagerDutyChannel(Channel):
    name = "PagerDuty"

    def is_configured(self) -> bool:
        return bool(settings.PAGERDUTY_ROUTING_KEY)

    def secrets(self) -> list[str]:
        return [settings.PAGERDUTY_ROUTING_KEY]

    def payload(self, event: NotificationEvent) -> dict:
        details = {"body": event.message, "recipient": event.recipient, "type": event.type}
        if event.certificate_id:
            details["certificate_id"] = event.certificate_id
        if event.threshold_days is not None:
            details["threshold_days"] = event.threshold_days
        return {
            "routing_key": settings.PAGERDUTY_ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": alert_key(event),
            "payload": {
                "summary": subject_of(event)[:SUMMARY_MAX],
                "severity": TIER_SEVERITY.get(event.severity_tier, settings.PAGERDUTY_SEVERITY),
                "source": "certctl",
                "custom_details": details,
            },
        }

    def send(self, event: NotificationEvent) -> None:
        post_json(settings.PAGERDUTY_EVENTS_URL, body=json_bytes(self.payload(event)), secrets=self.secrets())
