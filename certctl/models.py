"""Core models: API keys for automation and the heartbeats of background processes."""

from __future__ import annotations

from django.db import models

from certctl.ids import id_factory


class ApiKey(models.Model):
    """An API key; only the SHA-256 of the key is stored, the key itself is shown once at creation."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("key"), editable=False)
    name = models.CharField(max_length=128, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


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


class MetricCounter(models.Model):
    """A Prometheus counter series kept in the database, so every web and worker process adds to one value."""

    name = models.CharField(max_length=128)
    labels = models.CharField(max_length=512, help_text="Canonical JSON of the label set")
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="metric_counter_series")]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} = {self.value}"
