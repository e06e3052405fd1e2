"""Channel registry: adding a channel is one module plus one line here."""

from __future__ import annotations

from notifications.channels.base import Channel, DeliveryError
from notifications.channels.email import EmailChannel
from notifications.channels.opsgenie import OpsGenieChannel
from notifications.channels.pagerduty import PagerDutyChannel
from notifications.channels.slack import SlackChannel
from notifications.channels.teams import TeamsChannel
from notifications.channels.webhook import WebhookChannel
from notifications.enums import Channel as ChannelName

REGISTRY: dict[str, type[Channel]] = {
    ChannelName.EMAIL: EmailChannel,
    ChannelName.WEBHOOK: WebhookChannel,
    ChannelName.SLACK: SlackChannel,
    ChannelName.TEAMS: TeamsChannel,
    ChannelName.PAGERDUTY: PagerDutyChannel,
    ChannelName.OPSGENIE: OpsGenieChannel,
}


def get_channel(name: str) -> Channel:
    """The channel instance for a stored channel name; a name with no channel is a permanent error."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise DeliveryError(f"unknown channel {name!r}", permanent=True) from None


__all__ = ["REGISTRY", "Channel", "DeliveryError", "get_channel"]
