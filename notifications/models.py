"""The notification outbox: one row per message to one channel, with its delivery state."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from certctl.kernel.ids import id_factory
from notifications.enums import Channel, NotificationStatus, NotificationType, SeverityTier
from notifications.querysets import NotificationQuerySet


class NotificationEvent(models.Model):
    """A notification written in the same transaction as its cause and delivered after commit.

    `retry_count` counts failed attempts; `claimed_until` is the lease of the worker delivering it; `dedup_key` is
    unique so that two concurrent producers cannot create the same alert twice.
    """

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("notif"), editable=False)
    type = models.CharField(max_length=32, choices=NotificationType.choices)
    certificate = models.ForeignKey(
        "certificates.ManagedCertificate",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    message = models.TextField()
    severity_tier = models.CharField(max_length=16, choices=SeverityTier.choices, blank=True)
    threshold_days = models.IntegerField(null=True, blank=True)
    dedup_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_retry_at"],
                name="notif_retry_sweep",
                condition=Q(status="failed", next_retry_at__isnull=False),
            ),
            models.Index(fields=["created_at"], name="notif_pending_sweep", condition=Q(status="pending")),
            models.Index(fields=["status", "channel"], name="notif_status_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.type} via {self.channel} ({self.status})"


class DeadLetterNotification(NotificationEvent):
    """The admin's "Dead letter" view: the same rows, only those whose delivery gave up."""

    class Meta:
        proxy = True
        verbose_name = "dead-letter notification"
        verbose_name_plural = "dead letter"


class DemoInboxMessage(models.Model):
    """What the demo receiver of `make run` got: one Email, webhook or API call, shown in the admin's Inbox.

    Only `make run` points channels at the receiver (never a channel the operator configured). Rows and bodies
    are capped by notifications.services.demo_inbox, so a long demo cannot fill the disk.
    """

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("inbox"), editable=False)
    received_at = models.DateTimeField(db_index=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    request = models.CharField(
        max_length=512, help_text="HTTP method and path, or the SMTP envelope (sender and recipients)."
    )
    summary = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbox message (demo receiver)"
        verbose_name_plural = "inbox (demo receiver)"

    def __str__(self) -> str:
        return f"{self.channel}: {self.summary or self.request}"
