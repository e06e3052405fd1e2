"""Celery entry points of issuance: the renewal check and the job processor (arguments are IDs, never objects)."""

from celery import shared_task

from certificates.issuance.services import job_processor, renewal, renewal_info


@shared_task(name="certificates.check_renewals", acks_late=True, ignore_result=True)
def check_renewals() -> None:
    renewal.run_renewal_check()


@shared_task(name="certificates.process_jobs", acks_late=True, ignore_result=True)
def process_jobs() -> None:
    job_processor.drain_pending()


@shared_task(name="certificates.retry_failed_jobs", acks_late=True, ignore_result=True)
def retry_failed_jobs() -> None:
    job_processor.retry_failed()


@shared_task(name="certificates.reap_job_timeouts", acks_late=True, ignore_result=True)
def reap_job_timeouts() -> None:
    job_processor.reap_timeouts()


@shared_task(name=renewal_info.REFRESH_TASK, acks_late=True, ignore_result=True)
def refresh_renewal_info() -> dict[str, int]:
    return renewal_info.refresh_due().as_dict()
