"""Slack incoming webhook: `text` for notifications and clients without blocks, Block Kit for the message.

Subjects and messages carry user-controlled text (certificate names, owners, error messages), so every mrkdwn
field is escaped: `<!channel>`, `<@U123>` and `<http://evil|click>` arrive as text, not as a mention or a link.
The header block is `plain_text`, which Slack never parses for mentions, links or formatting.
"""

from __future__ import annotations

from notifications.channels.ack_links import ack_url
from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.channels.targets import Target
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

    def missing(self, target: Target) -> list[str]:
        return [] if target.get("webhook_url") else ["webhook_url"]

    def payload(self, event: NotificationEvent, target: Target) -> dict:
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
        link = ack_url(event)
        if link:  # our own signed URL: no user text in it
            payload["text"] += f"\nAcknowledge (stops escalation): {link}"
            payload["blocks"].append(
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": link}
                    ],
                }
            )
        for name in ("channel", "username"):
            if target.get(name):
                payload[name] = target.get(name)
        return payload

    def send(self, event: NotificationEvent, target: Target) -> None:
        body = json_bytes(self.payload(event, target))
        post_json(target.get("webhook_url"), body=body, secrets=target.secret_values())
