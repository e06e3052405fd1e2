"""Named reads of the outbox."""

from __future__ import annotations

from django.db import models
from django.db.models import Count

from notifications.enums import NotificationStatus


class NotificationQuerySet(models.QuerySet):
    def dead(self) -> NotificationQuerySet:
        return self.filter(status=NotificationStatus.DEAD)

    def status_counts(self) -> dict[str, int]:
        """Rows per status with every status present (0 when none), in one GROUP BY query.

        Used by /metrics and meant for the stats summary (`notifications_dead`, counts per status).
        """
        counts = {status.value: 0 for status in NotificationStatus}
        for row in self.order_by().values("status").annotate(n=Count("id")):
            counts[row["status"]] = row["n"]
        return counts
