"""Periodic tasks, registered in django-celery-beat's tables after every migrate.

Each app lists its schedules in `<app>/schedules.py` as `PERIODIC_TASKS = [Periodic(...), ...]`; this module
collects them. A later migrate creates what is missing and leaves an operator's edits in the admin alone.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.conf import settings

from certctl.kernel.schedules import Periodic


def periodic_tasks() -> list[Periodic]:
    found = [Periodic("heartbeat", "certctl.tasks.heartbeat", settings.HEARTBEAT_INTERVAL)]
    for config in apps.get_app_configs():
        if config.name == "certctl":
            continue
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        found.extend(module.PERIODIC_TASKS)
    return found


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
