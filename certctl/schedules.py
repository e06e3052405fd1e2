"""Periodic tasks, registered in django-celery-beat's tables after every migrate (so at every `make run` start).

Each app lists its schedules in `<app>/schedules.py` as `PERIODIC_TASKS = [Periodic(...), ...]`; this module
collects them. A missing task is created. An existing one takes the interval of its variable
(`CERTCTL_NOTIFICATION_RETRY_INTERVAL`, ...) as long as it still runs at the interval certctl applied last,
which certctl notes in the task's description; once an operator changed the interval in the admin, the admin's
value stays and a warning names the variable it overrides. Deleting the task hands it back to its variable.
"""

from __future__ import annotations

import logging
import re
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.db import transaction

from certctl.kernel.schedules import Periodic

logger = logging.getLogger(__name__)

APPLIED = re.compile(r"certctl applied every (\d+) s\b")
PERIOD_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}


def periodic_tasks() -> list[Periodic]:
    found = [
        Periodic(
            "heartbeat", "certctl.tasks.heartbeat", settings.HEARTBEAT_INTERVAL, "CERTCTL_HEARTBEAT_INTERVAL"
        )
    ]
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
    sync_periodic_tasks(periodic_tasks(), using=using)


def sync_periodic_tasks(items: list[Periodic], using: str = "default") -> list[str]:
    """Create missing tasks and apply each item's interval unless an operator set another; returns the names
    of the tasks whose admin interval was kept over their variable (each also logged as a warning)."""
    from django_celery_beat.models import PeriodicTask

    kept = []
    with transaction.atomic(using=using):
        for item in items:
            every = max(1, int(item.every_seconds))
            task = PeriodicTask.objects.using(using).select_related("interval").filter(name=item.name).first()
            if task is None:
                PeriodicTask.objects.using(using).create(
                    name=item.name,
                    task=item.task,
                    interval=_interval(every, using),
                    enabled=True,
                    description=_noted(item, every, ""),
                )
                continue
            current = _seconds_of(task)
            applied = APPLIED.search(task.description or "")
            if current == every or (applied is not None and current == int(applied.group(1))):
                description = _noted(item, every, task.description or "")
                if current == every and description == task.description:
                    continue
                if current != every:
                    logger.info(
                        "periodic task %r: interval %s s -> %s s (%s)",
                        item.name,
                        current,
                        every,
                        item.variable or "certctl's default",
                        extra={"periodic_task": item.name, "every_seconds": every},
                    )
                    task.interval = _interval(every, using)
                task.description = description
                task.save(using=using)
                continue
            kept.append(item.name)
            logger.warning(
                "periodic task %r keeps the schedule set in the admin (%s); %s asks for every %s s. Delete "
                "the task in the admin (Periodic tasks) and restart to use the variable again.",
                item.name,
                f"every {current} s" if current is not None else "not an interval",
                item.variable or "certctl's default",
                every,
                extra={"periodic_task": item.name, "every_seconds": every},
            )
    return kept


def _interval(every: int, using: str):
    from django_celery_beat.models import IntervalSchedule

    interval, _ = IntervalSchedule.objects.using(using).get_or_create(
        every=every, period=IntervalSchedule.SECONDS
    )
    return interval


def _seconds_of(task) -> int | None:
    """The task's interval in seconds; None for a crontab, solar or clocked schedule."""
    if task.interval is None:
        return None
    return int(task.interval.every * PERIOD_SECONDS.get(task.interval.period, 1))


def _noted(item: Periodic, every: int, description: str) -> str:
    """The description with certctl's note of the interval it applied (replacing an older note)."""
    source = f"from {item.variable}" if item.variable else "certctl's default"
    note = (
        f"certctl applied every {every} s ({source}). Change the interval here to override it; "
        "delete the task to hand it back."
    )
    if APPLIED.search(description):
        return APPLIED.sub(f"certctl applied every {every} s", description, count=1)
    return f"{description}\n{note}" if description.strip() else note
