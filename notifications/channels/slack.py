"""Slack incoming webhook: `text` for notifications and clients without blocks, Block Kit for the message.

Subjects and messages carry user-controlled text (certificate names, owners, error messages), so every mrkdwn
field is escaped: `<!channel>`, `<@U123>` and `<http://evil|click>` arrive as text, not as a mention or a link.
The header block is `plain_text`, which Slack never parses for mentions, links or formatting.
"""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.models import NotificationEvent

HEADER_MAX = 150
SECTION_MAX = 3000


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities (Slack's own escaping rule); `&` first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    """Trim to Slack's field limit without leaving half an entity (`&am`) at the end."""
    cut = text[:limit]
    amp = cut.rfind("&")
    return cut[:amp] if amp != -1 and ";" not in cut[amp:] and len(text) > limit else cut


class SlackChannel(Channel):
    name = "Slack"

    def is_configured(self) -> bool:
        return bool(settings.SLACK_WEBHOOK_URL)

    def secrets(self) -> list[str]:
        return [settings.SLACK_WEBHOOK_URL]

    def payload(self, event: NotificationEvent) -> dict:
        subject = subject_of(event)
        message = escape_mrkdwn(event.message)
        context = f"certctl · {event.type}" + (f" · {event.certificate_id}" if event.certificate_id else "")
        payload = {
            "text": f"*{escape_mrkdwn(subject)}*\n{message}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": subject[:HEADER_MAX]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": _cut(message, SECTION_MAX) or " "}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(context)}]},
            ],
        }
        if settings.SLACK_CHANNEL:
            payload["channel"] = settings.SLACK_CHANNEL
        if settings.SLACK_USERNAME:
            payload["username"] = settings.SLACK_USERNAME
        return payload

    def send(self, event: NotificationEvent) -> None:
        post_json(settings.SLACK_WEBHOOK_URL, body=json_bytes(self.payload(event)), secrets=self.secrets())
