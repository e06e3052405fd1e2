"""Celery entry points of revocation (imported by certificates/tasks.py so autodiscovery finds them)."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services import ocsp_responder, revoke


@shared_task(name=revoke.REGENERATE_CRL_TASK, acks_late=True, ignore_result=True)
def regenerate_crl(issuer_id: str, requested_at: str | None = None) -> None:
    crl_cache.regenerate_after_revocation(issuer_id, parse_datetime(requested_at) if requested_at else None)


@shared_task(name="certificates.regenerate_all_crls", acks_late=True, ignore_result=True)
def regenerate_all_crls() -> None:
    crl_cache.regenerate_all()


@shared_task(name="certificates.rotate_ocsp_responders", acks_late=True, ignore_result=True)
def rotate_ocsp_responders() -> None:
    ocsp_responder.rotate_due()
