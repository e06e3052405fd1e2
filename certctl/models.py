"""The certctl app's models, for Django's registry: process heartbeats here, API keys and counters beside
their code (the API kit and the kernel).
"""

from __future__ import annotations

from django.db import models

from certctl.api.models import ApiKey, TeamMembership
from certctl.kernel.models import MetricCounter

__all__ = ["ApiKey", "MetricCounter", "ProcessHeartbeat", "TeamMembership"]


class ProcessHeartbeat(models.Model):
    """Last sign of life of a Celery worker or beat, shown on /ready."""

    class Kind(models.TextChoices):
        WORKER = "worker"
        BEAT = "beat"

    kind = models.CharField(max_length=16, choices=Kind.choices, primary_key=True)
    last_seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
