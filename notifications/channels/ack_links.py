"""The signed one-click acknowledgement link that Email, Slack, Teams and webhook messages carry.

Beside the channels (they render it) and below the services (notifications.services.acknowledge reads it back).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from notifications.enums import NotificationType, SeverityTier
from notifications.models import NotificationEvent

LINK_SALT = "certctl.ack"
# Where notifications/api/urls.py serves the link (written out: building a message must not load the URLconf).
LINK_PATH = "/api/v1/notifications/ack/"


def is_linkable(event: NotificationEvent) -> bool:
    """A one-click link goes into unacknowledged critical expiry alerts only (what escalation pages about)."""
    return (
        event.pk is not None
        and event.type == NotificationType.EXPIRATION_WARNING
        and event.severity_tier == SeverityTier.CRITICAL
        and event.acknowledged_at is None
    )


def ack_token(event_id: str) -> str:
    """An HMAC (SECRET_KEY, salt `certctl.ack`) over the notification id and the signing time."""
    return signing.dumps(event_id, salt=LINK_SALT)


def ack_url(event: NotificationEvent) -> str | None:
    """The signed one-click acknowledgement link for an unacknowledged critical alert, or None.

    No query: channels call it while rendering each message.
    """
    if not is_linkable(event):
        return None
    return f"{settings.PUBLIC_URL}{LINK_PATH}{ack_token(event.pk)}"
