"""OpsGenie Alert API v2: `alias` deduplicates repeats of one alert into one OpsGenie alert."""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.channels.pagerduty import alert_key
from notifications.models import NotificationEvent

MESSAGE_MAX = 130
DESCRIPTION_MAX = 15000


class OpsGenieChannel(Channel):
    name = "OpsGenie"

    def is_configured(self) -> bool:
        return bool(settings.OPSGENIE_API_KEY)

    def secrets(self) -> list[str]:
        return [settings.OPSGENIE_API_KEY]

    def payload(self, event: NotificationEvent) -> dict:
        details = {"recipient": event.recipient, "type": event.type}
        if event.certificate_id:
            details["certificate_id"] = event.certificate_id
        return {
            "message": subject_of(event)[:MESSAGE_MAX],
            "alias": alert_key(event),
            "description": event.message[:DESCRIPTION_MAX],
            "priority": settings.OPSGENIE_PRIORITY,
            "source": "certctl",
            "tags": ["certctl", event.type],
            "details": details,
        }

    def send(self, event: NotificationEvent) -> None:
        post_json(
            settings.OPSGENIE_API_URL,
            body=json_bytes(self.payload(event)),
            secrets=self.secrets(),
            headers={"Authorization": f"GenieKey {settings.OPSGENIE_API_KEY}"},
        )
