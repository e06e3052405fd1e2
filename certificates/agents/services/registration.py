"""Agent lifecycle: registration with a bootstrap token, heartbeats, the offline sweep and retirement."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services.record import record
from certctl.kernel.credentials import generate_agent_credential, hash_key
from certificates.enums import OPEN_JOB_STATUSES, AgentStatus, JobStatus, JobType
from certificates.inventory.models import Agent, DeploymentTarget, ManagedCertificate
from certificates.issuance.models import Job
from certificates.issuance.services import jobs as job_service

logger = logging.getLogger(__name__)

# Reserved identities of server-side scanners in the reference; never retirable.
SENTINEL_AGENT_IDS = frozenset({"server-scanner", "cloud-aws-sm", "cloud-azure-kv", "cloud-gcp-sm"})
METADATA_FIELDS = ("hostname", "os", "architecture", "ip_address", "version")


class AgentError(Exception):
    """Base of the agent domain errors; the API maps each subclass to one status code."""


class AgentRetired(AgentError):
    pass


class AgentNameTaken(AgentError):
    pass


class SentinelAgent(AgentError):
    pass


class RetireReasonRequired(AgentError):
    pass


@dataclass
class RetireBlocked(AgentError):
    counts: dict[str, int]

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in self.counts.items() if n)
        return f"agent still has {parts}; retry with force=true and a reason to retire it and its targets"


@dataclass
class RetireResult:
    agent: Agent
    already_retired: bool
    cascade: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def register(
    *, name: str, metadata: dict[str, str], actor: str, actor_type: str, now: datetime | None = None
) -> tuple[Agent, str]:
    """Create an agent and its credential; the raw credential is returned once and only its hash is kept."""
    now = now or timezone.now()
    agent = Agent(name=name, status=AgentStatus.ONLINE, last_heartbeat_at=now)
    for key in METADATA_FIELDS:
        setattr(agent, key, metadata.get(key, "") or "")
    credential = generate_agent_credential(agent.id)
    agent.api_key_hash = hash_key(credential)
    try:
        with transaction.atomic():
            agent.save(force_insert=True)
            record(
                "agent_registered",
                resource_type="agent",
                resource_id=agent.id,
                actor=actor,
                actor_type=actor_type,
                details={"name": name, "hostname": agent.hostname},
                now=now,
            )
    except IntegrityError as exc:
        if Agent.objects.filter(name=name).exists():
            raise AgentNameTaken(f"an agent named {name!r} already exists") from exc
        raise
    logger.info("agent registered", extra={"agent_id": agent.id})
    return agent, credential


def heartbeat(agent: Agent, *, metadata: dict[str, str], now: datetime | None = None) -> Agent:
    """Record that the agent is alive, with whatever host facts it sent; a retired agent is told it is gone."""
    now = now or timezone.now()
    if agent.retired_at is not None:
        raise AgentRetired(f"agent {agent.id} was retired")
    updates = {"status": AgentStatus.ONLINE, "last_heartbeat_at": now}
    updates.update({key: value for key, value in metadata.items() if key in METADATA_FIELDS and value})
    # Conditional on not retired, so a heartbeat racing a retirement cannot bring the agent back.
    if not Agent.objects.filter(pk=agent.pk, retired_at__isnull=True).update(**updates):
        raise AgentRetired(f"agent {agent.id} was retired")
    for key, value in updates.items():
        setattr(agent, key, value)
    return agent


def mark_offline(now: datetime | None = None) -> int:
    """Mark Online agents whose last heartbeat is older than CERTCTL_AGENT_OFFLINE_AFTER as Offline.

    One conditional UPDATE, so any number of workers may run it at once.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER)
    changed = (
        Agent.objects.filter(status=AgentStatus.ONLINE, retired_at__isnull=True)
        .filter(Q(last_heartbeat_at__lt=cutoff) | Q(last_heartbeat_at__isnull=True))
        .update(status=AgentStatus.OFFLINE)
    )
    if changed:
        logger.info("agents marked offline", extra={"count": changed})
    return changed


def dependency_counts(agent: Agent) -> dict[str, int]:
    targets = DeploymentTarget.objects.filter(agent=agent, retired_at__isnull=True)
    return {
        "active_targets": targets.count(),
        "active_certificates": ManagedCertificate.objects.live()
        .filter(targets__in=targets)
        .distinct()
        .count(),
        "pending_jobs": _open_jobs(agent).count(),
    }


def _open_jobs(agent: Agent):
    return Job.objects.filter(status__in=OPEN_JOB_STATUSES).filter(Q(agent=agent) | Q(target__agent=agent))


def retire(
    agent_id: str,
    *,
    force: bool,
    reason: str,
    actor: str,
    actor_type: str,
    now: datetime | None = None,
) -> RetireResult:
    """Soft-retire an agent. With dependencies it is refused unless forced with a reason; forcing retires its
    targets and cancels its open jobs in the same transaction."""
    now = now or timezone.now()
    if agent_id in SENTINEL_AGENT_IDS:
        raise SentinelAgent(f"{agent_id} is a reserved agent and cannot be retired")
    if force and not reason.strip():
        raise RetireReasonRequired("a reason is required to force the retirement of an agent")
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=agent_id)
        if agent.retired_at is not None:
            return RetireResult(agent=agent, already_retired=True)
        counts = dependency_counts(agent)
        blocked = any(counts.values())
        if blocked and not force:
            raise RetireBlocked(counts)
        if blocked:
            DeploymentTarget.objects.filter(agent=agent, retired_at__isnull=True).update(retired_at=now)
            # CSR jobs go back to the pool (another agent deploying the certificate may take them);
            # deployments to the retired targets can never run and are cancelled.
            _open_jobs(agent).filter(type__in=(JobType.ISSUANCE, JobType.RENEWAL)).update(agent=None)
            for job in _open_jobs(agent).filter(type=JobType.DEPLOYMENT).select_for_update(of=("self",)):
                job_service.transition(
                    job,
                    JobStatus.CANCELLED,
                    actor=actor,
                    actor_type=actor_type,
                    error="agent retired",
                    now=now,
                )
        agent.retired_at = now
        agent.retired_reason = reason.strip()
        agent.status = AgentStatus.OFFLINE
        # The credential keeps authenticating so the agent is told 410 Gone rather than a puzzling 401.
        agent.save(update_fields=["retired_at", "retired_reason", "status"])
        record(
            "agent_retired",
            resource_type="agent",
            resource_id=agent.id,
            actor=actor,
            actor_type=actor_type,
            details={"reason": agent.retired_reason, "force": force, "cascade": blocked, "counts": counts},
            now=now,
        )
    return RetireResult(agent=agent, already_retired=False, cascade=blocked, counts=counts)
