"""Concurrent work polls on PostgreSQL: every deployment job is claimed exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from certificates.agents.services.work import claim_work
from certificates.issuance.models import Job
from tests.agent_helpers import make_agent
from tests.factories import CertificateFactory, JobFactory, TargetFactory

JOBS = 60
POLLERS = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_polls_never_claim_the_same_deployment_job():
    agent, _ = make_agent()
    target = TargetFactory(agent=agent)
    certificate = CertificateFactory()
    certificate.targets.add(target)
    for _ in range(JOBS):
        JobFactory(type="Deployment", status="Pending", certificate=certificate, target=target)

    claimed: list[list[str]] = [[] for _ in range(POLLERS)]
    start = threading.Barrier(POLLERS)
    errors: list[BaseException] = []

    def poll(slot: int) -> None:
        try:
            start.wait()
            while True:
                work = claim_work(agent, limit=4)
                if not work.deployments:
                    return
                claimed[slot].extend(job.id for job in work.deployments)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=poll, args=(slot,)) for slot in range(POLLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    every_claim = [job_id for slot in claimed for job_id in slot]
    assert len(every_claim) == len(set(every_claim)) == JOBS
    assert sum(1 for slot in claimed if slot) > 1  # the polls really overlapped
    assert Job.objects.filter(status="Running", agent=agent, attempts=1).count() == JOBS
