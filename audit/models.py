"""The audit trail: append-only records of API calls and state changes, chained by SHA-256."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from audit.redaction import redact
from certctl.kernel.ids import id_factory


class ActorType(models.TextChoices):
    USER = "User"
    SYSTEM = "System"
    AGENT = "Agent"
    ANONYMOUS = "Anonymous"


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted by the application."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def delete(self):
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    """One audit row. Once sealed, `seq` orders the hash chain and `row_hash` covers the content and `prev_hash`."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("audit"), editable=False)
    seq = models.BigIntegerField(
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Position in the hash chain; empty until sealed",
    )
    actor = models.CharField(max_length=255)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    action = models.CharField(max_length=255, db_index=True)
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=255)
    details = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    timestamp = models.DateTimeField(db_index=True, default=timezone.now)
    prev_hash = models.CharField(max_length=64, editable=False, blank=True, default="")
    row_hash = models.CharField(max_length=64, editable=False, blank=True, default="")

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-seq"]
        indexes = [
            models.Index(fields=["resource_type", "resource_id"], name="audit_resource"),
            models.Index(fields=["actor", "timestamp"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type}/{self.resource_id} by {self.actor}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        # Also when created directly (`AuditEvent.objects.create(...)`) rather than through record().
        self.details = redact(self.details)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    @staticmethod
    def team_condition(teams) -> Q:
        """A team-bound caller reads the rows about its teams' certificates, jobs, approvals and so on."""
        from audit.team_scope import team_condition

        return team_condition(teams)
