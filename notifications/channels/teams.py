"""Microsoft Teams: a MessageCard for Office 365 connectors, an Adaptive Card for Workflows webhooks.

Both render their text as markdown (an Adaptive Card TextBlock always; a MessageCard section with
`markdown: true`), and a connector card also renders some HTML. Subjects and messages carry user-controlled
text, so the rendered fields are escaped: `&`, `<` and `>` as entities (HTML tags, `<http://x>` autolinks) and
the markdown characters Teams interprets (`[x](y)` links, `**bold**`, `_italic_`, `~~strike~~`, `` `code` ``,
`# heading`) with a backslash. The card `summary` is plain text in the activity feed and is left as it is.
"""

from __future__ import annotations

from django.conf import settings

from notifications.channels.base import Channel, json_bytes, post_json, subject_of
from notifications.models import NotificationEvent

MARKDOWN_CHARS = "\\`*_~[]#"


def escape_teams(text: str) -> str:
    """Text safe to put in a Teams markdown field: it renders as the same characters, never as markup."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"\\{char}" if char in MARKDOWN_CHARS else char for char in text)


class TeamsChannel(Channel):
    name = "Teams"

    def is_configured(self) -> bool:
        return bool(settings.TEAMS_WEBHOOK_URL)

    def secrets(self) -> list[str]:
        return [settings.TEAMS_WEBHOOK_URL]

    def payload(self, event: NotificationEvent) -> dict:
        subject = subject_of(event)
        title, message = escape_teams(subject), escape_teams(event.message)
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
                                    "text": title,
                                    "wrap": True,
                                },
                                {"type": "TextBlock", "text": message, "wrap": True},
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
            "sections": [{"activityTitle": title, "text": message, "markdown": True}],
        }

    def send(self, event: NotificationEvent) -> None:
        post_json(settings.TEAMS_WEBHOOK_URL, body=json_bytes(self.payload(event)), secrets=self.secrets())
