"""The one seam through which services hand work to Celery: tasks by their registered name.

Tasks import services; a service that imported a task module or the Celery app would close the circle. Here a
service names the task (`notifications.deliver_notifications`) and the current Celery app publishes it. In eager
mode (unit tests, `CERTCTL_CELERY_EAGER`) the task runs in the calling thread instead, as `.delay()` would.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def is_eager() -> bool:
    """True when tasks run in the caller (no broker, no worker): unit tests and CERTCTL_CELERY_EAGER."""
    return bool(current_app.conf.task_always_eager)


def enqueue(task_name: str, *args: Any) -> None:
    """Publish `task_name(*args)` to the broker, or run it here and now in eager mode.

    Arguments are IDs and strings, never objects. Raises what the broker client raises: callers that have a
    sweep to fall back on catch it.
    """
    app = current_app
    if not app.conf.task_always_eager:
        app.send_task(task_name, args=args)
        return
    if task_name not in app.tasks:
        app.loader.import_default_modules()  # autodiscovery registers the apps' tasks
    app.tasks[task_name].apply_async(args=args)
