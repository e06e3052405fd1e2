"""Celery entry point of the expiry check (imported by certificates/tasks.py so autodiscovery registers it)."""

from celery import shared_task

from certificates.expiry.services.check import check_expiring_certificates

CHECK_EXPIRING_TASK = "certificates.check_expiring"


@shared_task(name=CHECK_EXPIRING_TASK, acks_late=True, ignore_result=True)
def check_expiring() -> dict:
    return check_expiring_certificates().as_dict()
