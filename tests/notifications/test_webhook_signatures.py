"""Webhook signatures against a real loopback receiver: certctl's (timestamp and body) and the reference product's
(body only, its alert payload), chosen per destination or by CERTCTL_WEBHOOK_SIGNATURE (issue 22)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.exceptions import ValidationError

from notifications.channels.targets import validate_settings, write_secrets
from notifications.enums import Channel, DestinationKind, NotificationStatus
from notifications.models import Destination
from notifications.services.delivery import deliver_one
from tests.notification_factories import NotificationEventFactory
from tests.sinks import WEBHOOK_SECRET, point_channels_at

pytestmark = pytest.mark.django_db

ROW_SECRET = "row-destination-secret"


def verify_reference(secret: str, body: bytes, header: str) -> bool:
    """What a receiver written for the reference does (docs/destinations.md)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def verify_certctl(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver written for certctl does (docs/destinations.md)."""
    expected = (
        "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, header)


def _deliver(**fields):
    event = NotificationEventFactory(**fields)
    deliver_one(event.id)
    event.refresh_from_db()
    assert event.status == NotificationStatus.SENT, event.last_error
    return event


def test_reference_signature_signs_the_raw_body_and_sends_the_reference_alert_keys(settings, http_sink):
    point_channels_at(settings, http_sink)
    settings.WEBHOOK_SIGNATURE = "reference"
    event = _deliver(
        channel=Channel.WEBHOOK,
        subject="Revoked",
        message="[REVOKED] keyCompromise",
        severity_tier="critical",
    )
    (request,) = http_sink.received("/webhook")
    assert verify_reference(WEBHOOK_SECRET, request.body, request.headers["X-Signature"])
    assert not verify_reference("another-secret", request.body, request.headers["X-Signature"])
    assert request.headers["X-Signature-Algorithm"] == "sha256"
    assert "X-Signature-Timestamp" not in request.headers
    assert request.headers["User-Agent"] == "certctl-notifier/1.0"
    body = request.json()
    metadata = body.pop("metadata")
    assert metadata.pop("ack_url").startswith(settings.PUBLIC_URL + "/api/v1/notifications/ack/")  # critical
    assert metadata == {"notification_type": "ExpirationWarning"}
    assert body == {
        "type": "alert",
        "alert_id": event.id,
        "severity": "critical",
        "subject": "Revoked",
        "message": "[REVOKED] keyCompromise",
        "recipient": "owner@example.test",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_certctl_signature_stays_the_default_and_covers_the_timestamp(settings, http_sink):
    point_channels_at(settings, http_sink)
    _deliver(channel=Channel.WEBHOOK, subject="Expiring")
    (request,) = http_sink.received("/webhook")
    timestamp = request.headers["X-Signature-Timestamp"]
    assert verify_certctl(WEBHOOK_SECRET, timestamp, request.body, request.headers["X-Signature"])
    assert not verify_reference(WEBHOOK_SECRET, request.body, request.headers["X-Signature"])
    assert "alert_id" not in request.json() and request.json()["subject"] == "Expiring"


def _webhook_destination(name: str, url: str, signature: str | None) -> Destination:
    config, secrets = validate_settings(
        DestinationKind.WEBHOOK,
        {"signature": signature} if signature else {},
        {"url": url, "hmac_secret": ROW_SECRET},
    )
    destination = Destination(name=name, kind=DestinationKind.WEBHOOK, config=config)
    write_secrets(destination, secrets)
    destination.save()
    return destination


def test_each_destination_row_chooses_its_signature_over_the_global_default(settings, http_sink):
    settings.WEBHOOK_SIGNATURE = "reference"
    legacy = _webhook_destination("legacy receiver", http_sink.url_for("/legacy"), None)
    modern = _webhook_destination("modern receiver", http_sink.url_for("/modern"), "certctl")
    for destination in (legacy, modern):
        _deliver(channel=Channel.WEBHOOK, destination=destination, destination_name=destination.name)
    (old_style,) = http_sink.received("/legacy")
    assert verify_reference(ROW_SECRET, old_style.body, old_style.headers["X-Signature"])
    (new_style,) = http_sink.received("/modern")
    timestamp = new_style.headers["X-Signature-Timestamp"]
    assert verify_certctl(ROW_SECRET, timestamp, new_style.body, new_style.headers["X-Signature"])
    settings.WEBHOOK_SIGNATURE = "certctl"
    switched = _webhook_destination("switched receiver", http_sink.url_for("/switched"), "reference")
    _deliver(channel=Channel.WEBHOOK, destination=switched, destination_name=switched.name)
    (request,) = http_sink.received("/switched")
    assert request.json()["type"] == "alert"
    assert verify_reference(ROW_SECRET, request.body, request.headers["X-Signature"])


def test_an_unknown_signature_is_refused_when_the_destination_is_saved(http_sink):
    with pytest.raises(ValidationError) as caught:
        _webhook_destination("typo", http_sink.url_for("/typo"), "sha1")
    assert "certctl, reference" in str(caught.value.message_dict["signature"])
