from celery import shared_task
from celery.signals import before_task_publish

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
