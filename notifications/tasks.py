"""Celery entry points for delivery; each is one call into notifications.services.delivery."""

from __future__ import annotations

from celery import shared_task

from notifications.services import delivery


@shared_task(name="notifications.deliver_notification", acks_late=True, ignore_result=True)
def deliver_notification(event_id: str) -> None:
    delivery.deliver_one(event_id)


@shared_task(name="notifications.process_pending", acks_late=True, ignore_result=True)
def process_pending_notifications() -> dict[str, int]:
    return delivery.process_pending().as_dict()


@shared_task(name="notifications.retry_failed", acks_late=True, ignore_result=True)
def retry_failed_notifications() -> dict[str, int]:
    return delivery.retry_due().as_dict()
