"""Notification series for /metrics, computed at scrape time (certctl.metrics discovers `collect`)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from certctl.kernel.metrics import counter_family, histogram_family
from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.delivery import DELIVERIES_TOTAL, DELIVERY_SECONDS


def collect() -> Iterable[Metric]:
    counts = NotificationEvent.objects.status_counts()
    # Kept as a gauge under the reference's name: it is the current dead count and drops on requeue.
    dead = GaugeMetricFamily(
        "certctl_notification_dead_total", "Notifications currently in the dead-letter queue"
    )
    dead.add_metric([], counts[NotificationStatus.DEAD])
    yield dead
    by_status = GaugeMetricFamily("certctl_notifications", "Notifications by status", labels=["status"])
    for status, n in counts.items():
        by_status.add_metric([status], n)
    yield by_status
    yield counter_family(
        DELIVERIES_TOTAL,
        "Delivery attempts by channel, destination and result",
        ["channel", "destination", "result"],
    )
    yield histogram_family(DELIVERY_SECONDS, "Time spent in one delivery attempt", ["channel", "destination"])
