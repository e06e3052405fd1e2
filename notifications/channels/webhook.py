"""Generic webhook: a JSON event, signed with HMAC-SHA256 when a secret is set.

Two signatures, per destination (`signature`, default CERTCTL_WEBHOOK_SIGNATURE): `certctl` signs
`<timestamp>.<raw body>` (a receiver can refuse a replayed body) and sends certctl's payload; `reference` signs
the raw body alone and sends the reference (Go) product's alert payload, for receivers written for it.
docs/destinations.md shows how a receiver checks each.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings

from notifications.channels.ack_links import ack_url
from notifications.channels.base import Channel, created_at_iso, json_bytes, post_json, subject_of
from notifications.channels.targets import Target
from notifications.models import NotificationEvent

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
REFERENCE_SIGNATURE = "reference"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body); receivers recompute and compare."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def reference_signature(secret: str, body: bytes) -> str:
    """The reference product's `sha256=<hex>` of HMAC-SHA256(secret, raw body)."""
    return f"sha256={hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}"


class WebhookChannel(Channel):
    name = "Webhook"

    def missing(self, target: Target) -> list[str]:
        return [] if target.get("url") else ["url"]

    def payload(self, event: NotificationEvent) -> dict:
        payload = {
            "id": event.id,
            "type": event.type,
            "subject": subject_of(event),
            "message": event.message,
            "recipient": event.recipient,
            "certificate_id": event.certificate_id,
            "severity_tier": event.severity_tier or None,
            "threshold_days": event.threshold_days,
            "created_at": created_at_iso(event),
        }
        link = ack_url(event)
        if link:
            payload["ack_url"] = link
        return payload

    def reference_payload(self, event: NotificationEvent) -> dict:
        """The reference's alert keys; what certctl adds travels in `metadata` (strings, as the reference's)."""
        metadata = {
            "notification_type": event.type,
            "certificate_id": event.certificate_id or "",
            "threshold_days": "" if event.threshold_days is None else str(event.threshold_days),
            "ack_url": ack_url(event) or "",
        }
        return {
            "type": "alert",
            "alert_id": event.id,
            "severity": event.severity_tier or "informational",
            "subject": subject_of(event),
            "message": event.message,
            "recipient": event.recipient,
            "created_at": created_at_iso(event),
            "metadata": {key: value for key, value in metadata.items() if value},
        }

    def send(self, event: NotificationEvent, target: Target) -> None:
        reference = (target.get("signature") or settings.WEBHOOK_SIGNATURE) == REFERENCE_SIGNATURE
        body = json_bytes(self.reference_payload(event) if reference else self.payload(event))
        headers = {"X-Certctl-Event-Id": event.id}
        secret = target.get("hmac_secret")
        if secret and reference:
            headers[SIGNATURE_HEADER] = reference_signature(secret, body)
            headers["X-Signature-Algorithm"] = "sha256"
        elif secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
            headers["X-Signature-Algorithm"] = "sha256"
        post_json(target.get("url"), body=body, secrets=target.secret_values(), headers=headers)
