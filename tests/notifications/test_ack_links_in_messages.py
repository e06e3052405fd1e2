"""Unacknowledged critical expiry alerts carry the signed acknowledgement link in every channel that can show one;
other alerts carry none. Delivered through the real loopback HTTP and SMTP sinks."""

from __future__ import annotations

import pytest
from django.core import signing

from notifications.channels.ack_links import LINK_PATH, LINK_SALT
from notifications.enums import Channel, NotificationType, SeverityTier
from notifications.services.delivery import deliver_one
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def channels(settings, http_sink, smtp_sink):
    point_channels_at(settings, http_sink, smtp_sink)
    settings.PUBLIC_URL = "https://certctl.example.test"
    return http_sink


def _critical(channel: str, **fields):
    event = NotificationEventFactory(
        channel=channel,
        type=NotificationType.EXPIRATION_WARNING,
        severity_tier=SeverityTier.CRITICAL,
        subject="[certctl] critical: certificate www has EXPIRED",
        message="certificate www has EXPIRED",
        **fields,
    )
    assert deliver_one(event.id) == "sent"
    return event


def _token_of(link: str) -> str:
    prefix = f"https://certctl.example.test{LINK_PATH}"
    assert link.startswith(prefix)
    return link[len(prefix) :]


def _assert_link_for(event, link: str) -> None:
    assert signing.loads(_token_of(link), salt=LINK_SALT) == event.id


def test_slack_gets_an_acknowledge_button_and_the_link_in_its_text(channels):
    event = _critical(Channel.SLACK)
    body = channels.received("/slack")[0].json()
    (actions,) = [block for block in body["blocks"] if block["type"] == "actions"]
    (button,) = actions["elements"]
    assert button["text"]["text"] == "Acknowledge"
    _assert_link_for(event, button["url"])
    assert f"Acknowledge (stops escalation): {button['url']}" in body["text"]


@pytest.mark.parametrize("card_format", ["messagecard", "adaptive"])
def test_teams_gets_an_open_url_action_in_both_formats(channels, settings, card_format):
    settings.TEAMS_FORMAT = card_format
    event = _critical(Channel.TEAMS)
    body = channels.received("/teams")[0].json()
    if card_format == "adaptive":
        (action,) = body["attachments"][0]["content"]["actions"]
        assert (action["type"], action["title"]) == ("Action.OpenUrl", "Acknowledge")
        link = action["url"]
    else:
        (action,) = body["potentialAction"]
        assert (action["@type"], action["name"]) == ("OpenUri", "Acknowledge")
        link = action["targets"][0]["uri"]
    _assert_link_for(event, link)


def test_the_webhook_body_carries_ack_url(channels):
    event = _critical(Channel.WEBHOOK)
    _assert_link_for(event, channels.received("/webhook")[0].json()["ack_url"])


def test_email_has_the_link_in_text_and_html(channels, smtp_sink):
    event = _critical(Channel.EMAIL, recipient="ops@example.test")
    (mail,) = smtp_sink.messages
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    link = text.split("Acknowledge (stops escalation): ", 1)[1].split()[0]
    _assert_link_for(event, link)
    assert f'<a href="{link}">Acknowledge</a>' in html


@pytest.mark.parametrize("tier", [SeverityTier.WARNING, SeverityTier.INFORMATIONAL])
def test_non_critical_alerts_carry_no_link(channels, tier):
    event = NotificationEventFactory(
        channel=Channel.SLACK, type=NotificationType.EXPIRATION_WARNING, severity_tier=tier, message="soon"
    )
    assert deliver_one(event.id) == "sent"
    body = channels.received("/slack")[0].json()
    assert "Acknowledge" not in body["text"]
    assert all(block["type"] != "actions" for block in body["blocks"])
