"""Named, composable reads over jobs."""

from __future__ import annotations

from django.db import models

from certificates.enums import OPEN_JOB_STATUSES


class JobQuerySet(models.QuerySet):
    def open(self) -> JobQuerySet:
        return self.filter(status__in=OPEN_JOB_STATUSES)
