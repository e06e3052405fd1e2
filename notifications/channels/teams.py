"""Microsoft Teams: a MessageCard for Office 365 connectors, an Adaptive Card for Workflows webhooks.

Both render their text as markdown (an Adaptive Card TextBlock always; a MessageCard section with
`markdown: true`), and a connector card also renders some HTML. Subjects and messages carry user-controlled
text, so the rendered fields are escaped: `&`, `<` and `>` as entities (HTML tags, `<http://x>` autolinks) and
the markdown characters Teams interprets (`[x](y)` links, `**bold**`, `_italic_`, `~~strike~~`, `` `code` ``,
`# heading`) with a backslash. The card `summary` is plain text in the activity feed and is left as it is.
"""

from __future__ import annotations

from notifications.channels.ack_links import ack_url
from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.channels.targets import Target
from notifications.models import NotificationEvent

MARKDOWN_CHARS = "\\`*_~[]#"


def escape_teams(text: str) -> str:
    """Text safe to put in a Teams markdown field: it renders as the same characters, never as markup."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"\\{char}" if char in MARKDOWN_CHARS else char for char in text)


class TeamsChannel(Channel):
    name = "Teams"

    def missing(self, target: Target) -> list[str]:
        return [] if target.get("webhook_url") else ["webhook_url"]

    def payload(self, event: NotificationEvent, target: Target) -> dict:
        subject = subject_of(event)
        title, message = escape_teams(subject), escape_teams(event.message)
        link = ack_url(event)  # our own signed URL: no user text in it
        if target.get("format") == "adaptive":
            card = {
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
                                    "text": title,
                                    "wrap": True,
                                },
                                {"type": "TextBlock", "text": message, "wrap": True},
                            ],
                        },
                    }
                ],
            }
            if link:
                card["attachments"][0]["content"]["actions"] = [
                    {"type": "Action.OpenUrl", "title": "Acknowledge", "url": link}
                ]
            return card
        card = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "themeColor": "0076D7",
            "summary": subject,
            "sections": [{"activityTitle": title, "text": message, "markdown": True}],
        }
        if link:
            card["potentialAction"] = [
                {"@type": "OpenUri", "name": "Acknowledge", "targets": [{"os": "default", "uri": link}]}
            ]
        return card

    def send(self, event: NotificationEvent, target: Target) -> None:
        body = json_bytes(self.payload(event, target))
        post_json(target.get("webhook_url"), body=body, secrets=target.secret_values())
