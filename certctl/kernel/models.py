"""The kernel's one table: Prometheus counter series kept in the database (certctl.kernel.counters)."""

from __future__ import annotations

from django.db import models


class MetricCounter(models.Model):
    """A Prometheus counter series kept in the database, so every web and worker process adds to one value."""

    name = models.CharField(max_length=128)
    labels = models.CharField(max_length=512, help_text="Canonical JSON of the label set")
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="metric_counter_series")]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} = {self.value}"
