"""Slack incoming webhook: `text` for notifications and clients without blocks, Block Kit for the message."""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.models import NotificationEvent

HEADER_MAX = 150
SECTION_MAX = 3000


class SlackChannel(Channel):
    name = "Slack"

    def is_configured(self) -> bool:
        return bool(settings.SLACK_WEBHOOK_URL)

    def secrets(self) -> list[str]:
        return [settings.SLACK_WEBHOOK_URL]

    def payload(self, event: NotificationEvent) -> dict:
        subject = subject_of(event)
        context = f"certctl · {event.type}" + (f" · {event.certificate_id}" if event.certificate_id else "")
        payload = {
            "text": f"*{subject}*\n{event.message}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": subject[:HEADER_MAX]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": event.message[:SECTION_MAX] or " "}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }
        if settings.SLACK_CHANNEL:
            payload["channel"] = settings.SLACK_CHANNEL
        if settings.SLACK_USERNAME:
            payload["username"] = settings.SLACK_USERNAME
        return payload

    def send(self, event: NotificationEvent) -> None:
        post_json(settings.SLACK_WEBHOOK_URL, body=json_bytes(self.payload(event)), secrets=self.secrets())
