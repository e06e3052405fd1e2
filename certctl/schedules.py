"""Periodic tasks, registered in django-celery-beat's tables after every migrate.

Operators may change an interval or disable a task in the admin; a later migrate only creates what is missing and
does not overwrite an operator's change of an existing schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: float


def periodic_tasks() -> list[Periodic]:
    """Every beat schedule of the product. Apps add theirs here, one line each."""
    return [
        Periodic("heartbeat", "certctl.tasks.heartbeat", settings.HEARTBEAT_INTERVAL),
    ]


def register_periodic_tasks(sender=None, using: str = "default", **kwargs) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for item in periodic_tasks():
        every = max(1, int(item.every_seconds))
        interval, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.using(using).get_or_create(
            name=item.name, defaults={"task": item.task, "interval": interval, "enabled": True}
        )
