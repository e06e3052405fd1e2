"""PagerDuty Events API v2: one incident per certificate and expiry (`dedup_key` = the row's incident key), so a
later threshold updates the same incident with its higher severity; an IncidentResolved row resolves it."""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.channels.targets import Target
from notifications.enums import NotificationType, SeverityTier
from notifications.models import NotificationEvent

TIER_SEVERITY = {
    SeverityTier.CRITICAL: "critical",
    SeverityTier.WARNING: "warning",
    SeverityTier.INFORMATIONAL: "info",
}
SUMMARY_MAX = 1024


def alert_key(event: NotificationEvent) -> str:
    """The incident the row belongs to: its stored incident key (`certctl-<certificate>-<not_after>`, written by
    the expiry check); rows written without one keep the key they always had (per certificate and type)."""
    return event.incident_key or f"certctl-{event.certificate_id or event.id}-{event.type}"


def events_url(target: Target) -> str:
    return target.get("events_url") or settings.PAGERDUTY_EVENTS_URL


class PagerDutyChannel(Channel):
    name = "PagerDuty"

    def missing(self, target: Target) -> list[str]:
        return [] if target.get("routing_key") else ["routing_key"]

    def payload(self, event: NotificationEvent, target: Target) -> dict:
        if event.type == NotificationType.INCIDENT_RESOLVED:
            return {
                "routing_key": target.get("routing_key"),
                "event_action": "resolve",
                "dedup_key": alert_key(event),
            }
        details = {"body": event.message, "recipient": event.recipient, "type": event.type}
        if event.certificate_id:
            details["certificate_id"] = event.certificate_id
        if event.threshold_days is not None:
            details["threshold_days"] = event.threshold_days
        default_severity = target.get("severity") or settings.PAGERDUTY_SEVERITY
        return {
            "routing_key": target.get("routing_key"),
            "event_action": "trigger",
            "dedup_key": alert_key(event),
            "payload": {
                "summary": subject_of(event)[:SUMMARY_MAX],
                "severity": TIER_SEVERITY.get(event.severity_tier, default_severity),
                "source": "certctl",
                "custom_details": details,
            },
        }

    def send(self, event: NotificationEvent, target: Target) -> None:
        body = json_bytes(self.payload(event, target))
        post_json(events_url(target), body=body, secrets=target.secret_values())
