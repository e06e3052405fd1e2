"""The periodic agent sweep: silent agents go Offline and the deployments they hold fail visibly."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from certificates.agents.services import registration as agents
from certificates.agents.services.work import record_deployment_outcome
from certificates.enums import JobStatus, JobType
from certificates.issuance.models import Job
from certificates.issuance.services import jobs as job_service

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"


def sweep_offline(now: datetime | None = None) -> dict[str, int]:
    """Mark silent agents Offline, then fail the Running deployments held by silent or retired agents."""
    now = now or timezone.now()
    return {"agents_offline": agents.mark_offline(now), "jobs_failed": fail_jobs_of_silent_agents(now)}


def fail_jobs_of_silent_agents(now: datetime | None = None) -> int:
    """Running deployment jobs whose agent stopped heart-beating (or was retired) move to Failed with
    DeploymentFailure, so a dead host shows up instead of a job that runs forever; the retry loop may re-arm them.

    Rows are claimed with SKIP LOCKED and moved by the conditional transition, so concurrent sweeps (or a late
    report from the agent) cannot fail a job twice.
    """
    now = now or timezone.now()
    silence = timedelta(seconds=settings.AGENT_OFFLINE_AFTER)
    cutoff = now - silence
    error = f"agent offline (no heartbeat for >{int(silence.total_seconds())}s)"
    failed = 0
    with transaction.atomic():
        held = (
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("certificate__owner", "target", "agent")
            .filter(type=JobType.DEPLOYMENT, status=JobStatus.RUNNING, agent__isnull=False)
            .filter(
                Q(agent__last_heartbeat_at__lt=cutoff)
                | Q(agent__last_heartbeat_at__isnull=True)
                | Q(agent__retired_at__isnull=False)
            )
            .order_by("started_at", "id")[: settings.AGENT_WORK_BATCH_SIZE]
        )
        for job in held:
            job_service.transition(
                job, JobStatus.FAILED, actor=SYSTEM_ACTOR, actor_type="System", error=error, now=now
            )
            record_deployment_outcome(
                job,
                succeeded=False,
                error=error,
                by=f"agent {job.agent.name}",
                actor=SYSTEM_ACTOR,
                actor_type="System",
                now=now,
            )
            failed += 1
    if failed:
        logger.warning("deployments of silent agents failed", extra={"count": failed})
    return failed
