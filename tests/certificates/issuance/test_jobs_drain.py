"""The beat task drains due jobs batch after batch instead of one batch per interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from certificates.enums import CertificateStatus, JobStatus
from certificates.inventory.models import CertificateVersion
from certificates.issuance.models import Job
from certificates.issuance.services.job_processor import drain_pending
from certificates.issuance.tasks import process_jobs
from tests.factories import JobFactory
from tests.issuance_helpers import issuable_certificate, make_root

pytestmark = pytest.mark.django_db


def _due_renewals(count: int) -> list[Job]:
    issuer = make_root()
    due = timezone.now() - timedelta(seconds=5)
    return [
        JobFactory(
            certificate=issuable_certificate(issuer, status=CertificateStatus.RENEWAL_IN_PROGRESS),
            type="Renewal",
            status=JobStatus.PENDING,
            scheduled_at=due,
        )
        for _ in range(count)
    ]


def test_drain_issues_every_due_job_in_one_run(settings):
    settings.KEYGEN_MODE = "server"
    jobs = _due_renewals(5)

    result = drain_pending(batch_size=2)

    assert sorted(result.completed) == sorted(job.pk for job in jobs)
    assert result.claimed == 5  # 2 + 2 + 1: the short batch ends the run
    assert set(Job.objects.filter(type="Renewal").values_list("status", flat=True)) == {JobStatus.COMPLETED}
    assert CertificateVersion.objects.count() == 5


def test_drain_stops_when_its_time_budget_is_spent(settings):
    settings.KEYGEN_MODE = "server"
    _due_renewals(5)

    result = drain_pending(batch_size=2, budget_seconds=0)

    assert (result.claimed, len(result.completed)) == (2, 2)
    assert Job.objects.filter(type="Renewal", status=JobStatus.PENDING).count() == 3


def test_the_beat_task_drains(settings):
    settings.KEYGEN_MODE = "server"
    settings.JOB_PROCESSOR_BATCH_SIZE = 2
    _due_renewals(3)

    process_jobs.apply()

    assert Job.objects.filter(type="Renewal", status=JobStatus.COMPLETED).count() == 3
