"""Expiry: one row per run of the expiry check, so operators see when it last ran and what it did."""

from __future__ import annotations

from django.db import models

from certctl.kernel.fields import JSONField
from certctl.kernel.ids import id_factory


class ExpiryCheckRun(models.Model):
    """A finished expiry check (beat, the admin API or `manage.py check_expiring`); kept for 30 days."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("xchk"), editable=False)
    checked_at = models.DateTimeField(help_text="The instant the check judged expiry against.")
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    scanned = models.PositiveIntegerField(default=0)
    alerts_created = models.PositiveIntegerField(default=0)
    status_changes = models.PositiveIntegerField(default=0)
    summary = JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["finished_at"], name="expiry_run_finished")]

    def __str__(self) -> str:
        return f"expiry check at {self.finished_at:%Y-%m-%d %H:%M:%S}"
