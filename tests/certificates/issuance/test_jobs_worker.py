"""The real Celery worker path: beat's renewal check and job processor tasks, run by a worker over Redis."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from certctl.schedules import periodic_tasks
from certificates.enums import CertificateStatus, JobStatus
from certificates.inventory.models import CertificateVersion
from certificates.issuance.models import Job
from certificates.issuance.tasks import check_renewals, process_jobs, reap_job_timeouts, retry_failed_jobs
from tests.factories import CertificateFactory, RenewalPolicyFactory
from tests.issuance_helpers import make_root


def test_beat_schedules_the_issuance_sweeps(settings):
    by_task = {p.task: p for p in periodic_tasks()}
    assert by_task["certificates.check_renewals"].every_seconds == settings.RENEWAL_CHECK_INTERVAL
    assert by_task["certificates.process_jobs"].every_seconds == settings.JOB_PROCESSOR_INTERVAL
    assert by_task["certificates.retry_failed_jobs"].every_seconds == settings.JOB_RETRY_INTERVAL
    assert by_task["certificates.reap_job_timeouts"].every_seconds == settings.JOB_TIMEOUT_INTERVAL


def _wait_for(predicate, what: str, seconds: float = 30) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    while not predicate():
        assert datetime.now(UTC) < deadline, f"worker did not {what}"
        threading.Event().wait(0.05)


@pytest.mark.django_db(transaction=True)
def test_real_worker_renews_a_certificate_inside_its_window(settings):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run under scripts/with-services.sh)")
    from celery.contrib.testing.worker import start_worker

    from certctl.celery import app

    settings.KEYGEN_MODE = "server"
    issuer = make_root()
    cert = CertificateFactory(
        issuer=issuer,
        renewal_policy=RenewalPolicyFactory(renewal_window_days=30),
        expires_at=timezone.now() + timedelta(days=10),
        sans=[],
    )
    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        check_renewals.delay()
        _wait_for(lambda: Job.objects.filter(certificate=cert).exists(), "create the renewal job")
        process_jobs.delay()
        _wait_for(
            lambda: Job.objects.filter(certificate=cert, status=JobStatus.COMPLETED).exists(),
            "complete the job",
        )
        retry_failed_jobs.delay()
        reap_job_timeouts.delay()
    job = Job.objects.get(certificate=cert)
    assert (job.type, job.attempts) == ("Renewal", 1)
    cert.refresh_from_db()
    version = CertificateVersion.objects.get(certificate=cert)
    assert cert.status == CertificateStatus.ACTIVE
    assert cert.expires_at == version.not_after > timezone.now() + timedelta(days=80)
