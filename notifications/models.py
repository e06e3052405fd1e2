"""The notification outbox: one row per message to one channel, with its delivery state."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from certctl.kernel.fields import JSONField
from certctl.kernel.ids import id_factory
from notifications.enums import (
    Channel,
    DestinationKind,
    DestinationSource,
    NotificationStatus,
    NotificationType,
    SeverityTier,
)
from notifications.querysets import NotificationQuerySet


class Destination(models.Model):
    """Where alerts go: one Slack webhook, one PagerDuty service, one list of email recipients, ...

    `config` is public (shown by the API and the admin); `encrypted_secrets` holds the webhook URLs, keys,
    HMAC secrets and SMTP password as Fernet-encrypted JSON (`CERTCTL_ENCRYPTION_KEY`), write-only everywhere.
    Rows with `source=environment` are the `CERTCTL_*` channel variables: fixed ids (`dest-env-slack`), their
    settings read from the environment at send time, read-only in the API and the admin.
    `tiers` limits the severity tiers a destination accepts (empty: all). `is_default` destinations receive a
    tier's alerts when no policy, owner or team route does.
    """

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("dest"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=DestinationKind.choices)
    config = JSONField(default=dict, blank=True)
    encrypted_secrets = models.TextField(blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)
    team = models.ForeignKey(
        "certificates.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="destinations",
        help_text="A team's destinations receive its certificates' alerts; empty: an installation-wide one.",
    )
    tiers = JSONField(default=list, blank=True, help_text="Severity tiers accepted; empty: every tier.")
    is_default = models.BooleanField(
        default=False, help_text="Receives a tier's alerts when no policy, owner or team route does."
    )
    source = models.CharField(
        max_length=16, choices=DestinationSource.choices, default=DestinationSource.ADMIN
    )
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_delivery_status = models.CharField(max_length=16, blank=True)
    last_delivery_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["team", "enabled"], name="dest_team_enabled")]

    def __str__(self) -> str:
        return self.name

    @property
    def from_environment(self) -> bool:
        return self.source == DestinationSource.ENVIRONMENT


class NotificationEvent(models.Model):
    """A notification written in the same transaction as its cause and delivered after commit.

    `retry_count` counts failed attempts; `claimed_until` is the lease of the worker delivering it; `dedup_key` is
    unique so that two concurrent producers cannot create the same alert twice.
    """

    team_lookups = (
        "certificate__team",
        "discovered_certificate__team",
    )  # team-bound keys and staff see these rows only (certctl.api.teams)

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("notif"), editable=False)
    type = models.CharField(max_length=32, choices=NotificationType.choices)
    certificate = models.ForeignKey(
        "certificates.ManagedCertificate",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # An alert about a discovered (not managed) certificate: expiry of one with an owner or team, or a violation.
    discovered_certificate = models.ForeignKey(
        "certificates.DiscoveredCertificate",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    destination = models.ForeignKey(
        Destination, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    # The destination's name when the row was written: history keeps it after the destination is deleted.
    destination_name = models.CharField(max_length=255, blank=True)
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
    # Quiet hours: a `deferred` row waits for this moment, then becomes `pending` (notifications.services.quiet).
    deferred_until = models.DateTimeField(null=True, blank=True)
    # PagerDuty dedup_key / OpsGenie alias: one incident per certificate and expiry (notifications.incidents).
    incident_key = models.CharField(max_length=255, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=255, blank=True)
    # When an unacknowledged critical alert goes to the policy's next escalation step; cleared by an
    # acknowledgement or once the last step is sent (notifications.services.escalation).
    escalation_due_at = models.DateTimeField(null=True, blank=True)
    # 0 for the alert itself; n for the copy sent to the policy's n-th escalation step.
    escalation_step = models.PositiveSmallIntegerField(default=0)
    escalated_from = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="escalations"
    )
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
            models.Index(
                fields=["deferred_until"], name="notif_deferred_sweep", condition=Q(status="deferred")
            ),
            models.Index(
                fields=["escalation_due_at"],
                name="notif_escalation_sweep",
                condition=Q(escalation_due_at__isnull=False),
            ),
            models.Index(fields=["destination", "status"], name="notif_destination_status"),
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
