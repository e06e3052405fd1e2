"""Generic webhook: a JSON event, signed with HMAC-SHA256 over `<timestamp>.<raw body>` when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings

from notifications.channels.base import Channel, created_at_iso, json_bytes, post_json, subject_of
from notifications.models import NotificationEvent

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body); receivers recompute and compare."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookChannel(Channel):
    name = "Webhook"

    def is_configured(self) -> bool:
        return bool(settings.WEBHOOK_URL)

    def secrets(self) -> list[str]:
        return [settings.WEBHOOK_URL, settings.WEBHOOK_SECRET]

    def payload(self, event: NotificationEvent) -> dict:
        return {
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

    def send(self, event: NotificationEvent) -> None:
        body = json_bytes(self.payload(event))
        headers = {"X-Certctl-Event-Id": event.id}
        if settings.WEBHOOK_SECRET:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(settings.WEBHOOK_SECRET, timestamp, body)
            headers["X-Signature-Algorithm"] = "sha256"
        post_json(settings.WEBHOOK_URL, body=body, secrets=self.secrets(), headers=headers)
