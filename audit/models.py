"""The audit trail: append-only records of API calls and state changes."""

from __future__ import annotations

from django.db import models

from certctl.ids import id_factory


class ActorType(models.TextChoices):
    USER = "User"
    SYSTEM = "System"
    AGENT = "Agent"


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted by the application."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def delete(self):
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("audit"), editable=False)
    actor = models.CharField(max_length=255)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    action = models.CharField(max_length=255, db_index=True)
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=255)
    details = models.JSONField(null=True, blank=True)
    timestamp = models.DateTimeField(db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["resource_type", "resource_id"], name="audit_resource")]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type}/{self.resource_id} by {self.actor}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")
