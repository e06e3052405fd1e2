"""Notification rows for tests of the notifications stream (and of anything that delivers them)."""

from __future__ import annotations

import factory

from notifications.enums import Channel, NotificationStatus, NotificationType
from notifications.models import NotificationEvent


class NotificationEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationEvent

    type = NotificationType.EXPIRATION_WARNING
    channel = Channel.SLACK
    recipient = "owner@example.test"
    subject = "Certificate api.example.test expires in 7 days"
    message = factory.Sequence(lambda n: f"Certificate #{n} expires in 7 days")
    status = NotificationStatus.PENDING
