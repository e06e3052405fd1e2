"""Celery entry points for delivery; each is one call into notifications.services.delivery."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_shutdown

from notifications.services import delivery, digest, escalation, publisher, quiet


@shared_task(name=publisher.DELIVER_ONE_TASK, acks_late=True, ignore_result=True)
def deliver_notification(event_id: str) -> None:
    delivery.deliver_one(event_id)


@shared_task(name=publisher.DELIVER_MANY_TASK, acks_late=True, ignore_result=True)
def deliver_notifications(event_ids: list[str]) -> dict[str, int]:
    return delivery.deliver_many(event_ids).as_dict()


@shared_task(name="notifications.process_pending", acks_late=True, ignore_result=True)
def process_pending_notifications() -> dict[str, int]:
    return delivery.process_pending().as_dict()


@shared_task(name="notifications.retry_failed", acks_late=True, ignore_result=True)
def retry_failed_notifications() -> dict[str, int]:
    return delivery.retry_due().as_dict()


@shared_task(name="notifications.release_deferred", acks_late=True, ignore_result=True)
def release_deferred_notifications() -> dict[str, int]:
    return quiet.release_due()


@shared_task(name="notifications.escalate", acks_late=True, ignore_result=True)
def escalate_notifications() -> dict[str, int]:
    return escalation.escalate_due()


@shared_task(name="notifications.send_digests", acks_late=True, ignore_result=True)
def send_digests() -> dict[str, int]:
    return digest.send_due_digests()


@worker_process_shutdown.connect
def _publish_queued_deliveries(**kwargs) -> None:
    # Prefork children skip atexit: hand over what the publisher thread has not sent yet.
    publisher.flush()
