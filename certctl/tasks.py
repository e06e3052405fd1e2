from celery import shared_task
from celery.signals import before_task_publish, task_postrun, worker_process_shutdown

from certctl.kernel import counters
from certctl.models import ProcessHeartbeat
from certctl.services import heartbeat as heartbeat_service

HEARTBEAT_TASK = "certctl.tasks.heartbeat"


@shared_task(name=HEARTBEAT_TASK, acks_late=True, ignore_result=True)
def heartbeat() -> None:
    heartbeat_service.stamp(ProcessHeartbeat.Kind.WORKER)


@before_task_publish.connect
def _beat_published_heartbeat(sender=None, headers=None, **kwargs) -> None:
    # Only beat publishes the heartbeat task, so publishing it is beat's own sign of life.
    if sender == HEARTBEAT_TASK:
        heartbeat_service.stamp(ProcessHeartbeat.Kind.BEAT)


@task_postrun.connect
@worker_process_shutdown.connect
def _flush_buffered_counters(**kwargs) -> None:
    # Counts buffered while a task ran reach the shared rows when it ends; prefork children skip atexit.
    counters.flush_buffered()
