"""Celery entry points of revocation (imported by certificates/tasks.py so autodiscovery finds them)."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services import issuer_revocation, ocsp_responder, revoke


@shared_task(name=revoke.REGENERATE_CRL_TASK, acks_late=True, ignore_result=True)
def regenerate_crl(issuer_id: str, requested_at: str | None = None) -> None:
    crl_cache.regenerate_after_revocation(issuer_id, parse_datetime(requested_at) if requested_at else None)


@shared_task(name="certificates.regenerate_all_crls", acks_late=True, ignore_result=True)
def regenerate_all_crls() -> None:
    crl_cache.regenerate_all()


@shared_task(name="certificates.rotate_ocsp_responders", acks_late=True, ignore_result=True)
def rotate_ocsp_responders() -> None:
    ocsp_responder.rotate_due()


@shared_task(name=issuer_revocation.REVOKE_AT_ISSUER_TASK, bind=True, acks_late=True, ignore_result=True)
def revoke_at_issuer(self, issuer_id: str, serial: str) -> None:
    outcome = issuer_revocation.revoke_at_issuer(issuer_id, serial, attempt=self.request.retries)
    if outcome.retry_in is not None:
        # throw=False: a worker publishes the retry and acks this run; eager mode (tests) simply stops here.
        self.retry(countdown=outcome.retry_in, max_retries=issuer_revocation.MAX_ATTEMPTS, throw=False)


@shared_task(name="certificates.requeue_lost_issuer_revocations", acks_late=True, ignore_result=True)
def requeue_lost_issuer_revocations() -> int:
    return issuer_revocation.requeue_lost()
