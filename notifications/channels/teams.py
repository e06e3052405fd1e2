"""Microsoft Teams: a MessageCard for Office 365 connectors, an Adaptive Card for Workflows webhooks."""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.models import NotificationEvent


class TeamsChannel(Channel):
    name = "Teams"

    def is_configured(self) -> bool:
        return bool(settings.TEAMS_WEBHOOK_URL)

    def secrets(self) -> list[str]:
        return [settings.TEAMS_WEBHOOK_URL]

    def payload(self, event: NotificationEvent) -> dict:
        subject = subject_of(event)
        if settings.TEAMS_FORMAT == "adaptive":
            return {
                "type": "message",
                "attachments": [
                    {
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": None,
                        "content": {
                            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": [
                                {
                                    "type": "TextBlock",
                                    "size": "Medium",
                                    "weight": "Bolder",
                                    "text": subject,
                                    "wrap": True,
                                },
                                {"type": "TextBlock", "text": event.message, "wrap": True},
                            ],
                        },
                    }
                ],
            }
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "themeColor": "0076D7",
            "summary": subject,
            "sections": [{"activityTitle": subject, "text": event.message, "markdown": True}],
        }

    def send(self, event: NotificationEvent) -> None:
        post_json(settings.TEAMS_WEBHOOK_URL, body=json_bytes(self.payload(event)), secrets=self.secrets())
