"""Deployment on demand: Pending Deployment jobs of a certificate's newest version for its targets (all, one, or
those of an agent group's members), which the targets' agents claim like the jobs issuance creates.

A target that already has a Pending or Running deployment of that version gets no second one: its job is
returned instead. Triggers for one certificate are serialised on the certificate row, so two concurrent calls
cannot both create a job for the same target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services.record import record
from certctl.kernel import rows
from certificates.agents.models import AgentGroup
from certificates.agents.services.groups import member_ids
from certificates.enums import JobStatus, JobType
from certificates.inventory.models import CertificateVersion, DeploymentTarget, ManagedCertificate
from certificates.issuance.models import Job
from certificates.issuance.services.recording import deployment_jobs

logger = logging.getLogger(__name__)

IN_FLIGHT = (JobStatus.PENDING, JobStatus.RUNNING)


class DeployError(Exception):
    """A deployment that cannot be triggered; `field` names the request key at fault (an API 400/404/409)."""

    field = "non_field_errors"


class TargetNotMapped(DeployError):
    field = "target_id"


class GroupUnusable(DeployError):
    field = "agent_group_id"


class NothingToDeploy(DeployError):
    """No issued version yet, or no live target left to deploy to (409)."""


@dataclass
class Triggered:
    version: CertificateVersion
    created: list[str] = field(default_factory=list)  # new job ids
    existing: list[str] = field(default_factory=list)  # in-flight job ids returned instead

    @property
    def job_ids(self) -> list[str]:
        return [*self.created, *self.existing]


def newest_version(certificate: ManagedCertificate) -> CertificateVersion | None:
    return certificate.versions.order_by("-created_at", "-id").first()


def trigger(
    certificate: ManagedCertificate,
    *,
    target: DeploymentTarget | None = None,
    group: AgentGroup | None = None,
    actor: str,
    actor_type: str,
    now: datetime | None = None,
) -> Triggered:
    """Create deployment jobs of the certificate's newest version for its live, enabled targets: only `target`
    when given (it must be mapped to the certificate), only those whose agent is a member of `group` when given.
    Audited as `deployment_triggered` with the job ids."""
    now = now or timezone.now()
    if group is not None and not group.enabled:
        raise GroupUnusable(f"agent group {group.name} is disabled")
    with transaction.atomic():
        locked = (
            ManagedCertificate.objects.select_for_update()
            .select_related("renewal_policy")
            .get(pk=certificate.pk)
        )
        version = newest_version(locked)
        if version is None:
            raise NothingToDeploy(f"certificate {locked.pk} has no issued version to deploy yet")
        chosen = _targets(locked, target, group)
        in_flight = {
            job.target_id: job.pk
            for job in Job.objects.filter(
                type=JobType.DEPLOYMENT, certificate=locked, target__in=chosen, status__in=IN_FLIGHT
            )
            # A job without a version predates versioned jobs; a Pending one fetches the newest version anyway.
            .filter(Q(version=version) | Q(version__isnull=True, status=JobStatus.PENDING))
            .order_by("created_at")
        }
        result = Triggered(version=version, existing=[in_flight[t.pk] for t in chosen if t.pk in in_flight])
        new_jobs = deployment_jobs(
            locked, now, version=version, targets=[t for t in chosen if t.pk not in in_flight]
        )
        if new_jobs:
            rows.write(new_jobs)
        result.created = [job.pk for job in new_jobs]
        record(
            "deployment_triggered",
            resource_type="certificate",
            resource_id=locked.pk,
            actor=actor,
            actor_type=actor_type,
            details={
                "version_id": version.pk,
                "target_id": target.pk if target else None,
                "agent_group_id": group.pk if group else None,
                "job_ids": result.created,
                "already_in_flight": result.existing,
            },
            now=now,
        )
    logger.info(
        "deployment triggered",
        extra={
            "certificate_id": certificate.pk,
            "jobs_created": len(result.created),
            "jobs_in_flight": len(result.existing),
        },
    )
    return result


def _targets(
    certificate: ManagedCertificate, target: DeploymentTarget | None, group: AgentGroup | None
) -> list[DeploymentTarget]:
    mapped = certificate.targets.order_by("name", "id")
    if target is not None:
        if not mapped.filter(pk=target.pk).exists():
            raise TargetNotMapped(f"target {target.pk} is not mapped to certificate {certificate.pk}")
        mapped = mapped.filter(pk=target.pk)
    if group is not None:
        mapped = mapped.filter(agent_id__in=member_ids(group))
    live = [t for t in mapped if t.enabled and t.retired_at is None]
    if not live:
        scope = f"target {target.pk}" if target else "the certificate's targets"
        scope += f" with an agent in group {group.name}" if group else ""
        raise NothingToDeploy(f"no enabled, live deployment target to deploy to ({scope})")
    return live


@dataclass
class TargetDeployment:
    """One row of GET /certificates/{id}/deployments: a mapped target and its latest deployment job."""

    target: DeploymentTarget
    job: Job | None


def latest_deployments(
    certificate: ManagedCertificate, targets: list[DeploymentTarget]
) -> list[TargetDeployment]:
    """`targets` (some the certificate maps to), each with its latest deployment job of this certificate."""
    jobs = (
        Job.objects.filter(type=JobType.DEPLOYMENT, certificate=certificate, target__in=targets)
        .select_related("version")
        .order_by("target_id", "-created_at", "-id")
        .distinct("target_id")
    )
    latest = {job.target_id: job for job in jobs}
    return [TargetDeployment(target=t, job=latest.get(t.pk)) for t in targets]
