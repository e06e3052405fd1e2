"""Generic webhook: a JSON event, signed with HMAC-SHA256 over `<timestamp>.<raw body>` when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import time

from notifications.channels.ack_links import ack_url
from notifications.channels.base import Channel, created_at_iso, json_bytes, post_json, subject_of
from notifications.channels.targets import Target
from notifications.models import NotificationEvent

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body); receivers recompute and compare."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


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

    def send(self, event: NotificationEvent, target: Target) -> None:
        body = json_bytes(self.payload(event))
        headers = {"X-Certctl-Event-Id": event.id}
        secret = target.get("hmac_secret")
        if secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
            headers["X-Signature-Algorithm"] = "sha256"
        post_json(target.get("url"), body=body, secrets=target.secret_values(), headers=headers)
