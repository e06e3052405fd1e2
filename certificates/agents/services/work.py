"""What an agent does: claim its work, submit CSRs, pick up certificates and report job outcomes.

An agent only ever sees jobs for its own targets (or assigned to it); anything else is reported as not found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services.record import record
from certctl.kernel import counters, dispatch
from certificates.agents.services.registration import AgentError, AgentRetired
from certificates.enums import JobStatus, JobType, VerificationStatus
from certificates.inventory.models import Agent, CertificateVersion, DeploymentTarget, ManagedCertificate
from certificates.issuance.models import Job
from certificates.issuance.services import jobs as job_service
from certificates.issuance.services.failures import fail_issuing_job
from certificates.issuance.services.issuance import IssueRequest, issue_from_csr, issue_many
from notifications.enums import Channel, NotificationType
from notifications.services.outbox import enqueue

logger = logging.getLogger(__name__)

AGENT_ACTOR_TYPE = "Agent"
CSR_JOB_TYPES = (JobType.ISSUANCE, JobType.RENEWAL)
DEPLOYMENT_COUNTER = "certctl_agent_deployments_total"
REPORTABLE_STATUSES = (JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED)
VERIFY_TASK = "certificates.verify_deployment"  # runs certificates.agents.services.verification


class NotYours(AgentError):
    """The job or certificate does not exist or belongs to another agent (404 either way)."""


class NoVersion(AgentError):
    pass


class NoCSRJob(AgentError):
    pass


class BadReport(AgentError):
    pass


@dataclass
class Work:
    deployments: list[Job]
    csr_requests: list[Job]


def ensure_active(agent: Agent) -> None:
    if agent.retired_at is not None:
        raise AgentRetired(f"agent {agent.id} was retired")


def _live_targets(agent: Agent):
    return DeploymentTarget.objects.filter(agent=agent, retired_at__isnull=True, enabled=True)


def _visible_jobs(agent: Agent):
    """Jobs assigned to this agent, or unassigned ones for one of its targets or mapped certificates."""
    return Job.objects.filter(
        Q(agent=agent)
        | Q(agent__isnull=True, target__agent=agent)
        | Q(agent__isnull=True, type__in=CSR_JOB_TYPES, certificate__targets__agent=agent)
    ).distinct()


def claim_work(agent: Agent, *, now: datetime | None = None, limit: int | None = None) -> Work:
    """Claim due deployment jobs (Pending → Running, locked with SKIP LOCKED so two polls never share one) and
    the CSR jobs of certificates mapped to this agent's targets (assigned to it so one host holds the key)."""
    ensure_active(agent)
    now = now or timezone.now()
    limit = limit or settings.AGENT_WORK_BATCH_SIZE
    lease_expired = now - timedelta(seconds=settings.AGENT_WORK_LEASE)
    targets = _live_targets(agent)
    with transaction.atomic():
        mine = Q(agent__isnull=True) | Q(agent=agent)
        pending = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(mine, type=JobType.DEPLOYMENT, status=JobStatus.PENDING, scheduled_at__lte=now)
            .filter(target__in=targets)
            .order_by("scheduled_at", "id")[:limit]
        )
        for job in pending:
            job_service.transition(
                job, JobStatus.RUNNING, actor=agent.name, actor_type=AGENT_ACTOR_TYPE, now=now
            )
        # A claim this agent never reported on (it crashed mid-deploy) is handed to it again after the lease.
        stale = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(agent=agent, type=JobType.DEPLOYMENT, status=JobStatus.RUNNING)
            .filter(Q(started_at__lt=lease_expired) | Q(started_at__isnull=True))
            .order_by("started_at", "id")[: max(0, limit - len(pending))]
        )
        deployments = pending + stale
        if deployments:
            Job.objects.filter(pk__in=[job.pk for job in deployments]).update(agent=agent, started_at=now)
        for job in deployments:
            job.agent, job.started_at = agent, now

        csr_ids = list(
            Job.objects.filter(mine, type__in=CSR_JOB_TYPES, status=JobStatus.AWAITING_CSR)
            .filter(certificate__targets__in=targets)
            .values_list("pk", flat=True)
            .distinct()[:limit]
        )
        # First poller takes an unassigned CSR job; the conditional update decides between racing agents.
        Job.objects.filter(pk__in=csr_ids, agent__isnull=True).update(agent=agent)
        csr_requests = list(
            Job.objects.filter(pk__in=csr_ids, agent=agent, status=JobStatus.AWAITING_CSR)
            .select_related("certificate__profile")
            .order_by("created_at", "id")
        )
    deployments = list(
        Job.objects.filter(pk__in=[job.pk for job in deployments])
        .select_related("target", "certificate")
        .order_by("scheduled_at", "id")
    )
    if deployments or csr_requests:
        logger.info(
            "agent work claimed",
            extra={"agent_id": agent.id, "deployments": len(deployments), "csr_requests": len(csr_requests)},
        )
    return Work(deployments=deployments, csr_requests=csr_requests)


def key_requirement(certificate: ManagedCertificate) -> tuple[str, int]:
    """The key the agent should generate: ECDSA P-256 unless the profile rules it out."""
    allowed = certificate.profile.allowed_key_algorithms if certificate.profile_id else []
    by_algorithm = {item.get("algorithm"): int(item.get("min_size") or 0) for item in allowed or []}
    if not by_algorithm or ("ECDSA" in by_algorithm and by_algorithm["ECDSA"] <= 256):
        return "ECDSA", 256
    if "ECDSA" in by_algorithm:
        return "ECDSA", 384 if by_algorithm["ECDSA"] <= 384 else 521
    if "RSA" in by_algorithm:
        return "RSA", max(2048, by_algorithm["RSA"])
    return "Ed25519", 256


def _visible_certificates(agent: Agent):
    """Certificates this agent deploys (on one of its live targets) or has a job for."""
    return ManagedCertificate.objects.filter(
        Q(targets__agent=agent, targets__retired_at__isnull=True) | Q(jobs__agent=agent)
    ).distinct()


def _certificate_for(agent: Agent, certificate_id: str) -> ManagedCertificate:
    certificate = _visible_certificates(agent).filter(pk=certificate_id).first()
    if certificate is None:
        raise NotYours(f"certificate {certificate_id} not found")
    return certificate


def latest_version(agent: Agent, certificate_id: str) -> CertificateVersion:
    """The newest issued version of a certificate this agent deploys."""
    ensure_active(agent)
    certificate = _certificate_for(agent, certificate_id)
    version = certificate.versions.order_by("-created_at", "-id").first()
    if version is None:
        raise NoVersion(f"certificate {certificate_id} has no issued version yet")
    return version


def submit_csr(
    agent: Agent, *, certificate_id: str, csr_pem: str, job_id: str = "", now: datetime | None = None
) -> CertificateVersion:
    """Have the certificate's issuer sign a CSR made on the agent's host for one of its AwaitingCSR jobs."""
    ensure_active(agent)
    certificate = _certificate_for(agent, certificate_id)
    job = _job_awaiting_csr(agent, certificate, job_id)
    # Not wrapped in a transaction here: issue_from_csr commits a signing failure (job Failed, RenewalFailure)
    # itself, and its conditional job transition makes a duplicate submission fail with InvalidTransition. The
    # agent takes an unassigned job in that same transition: a refused CSR leaves the job as it was.
    return issue_from_csr(
        certificate, csr_pem, actor=agent.name, actor_type=AGENT_ACTOR_TYPE, job=job, now=now, agent=agent
    )


@dataclass
class CSRResult:
    """One submission of `submit_csrs`: the version issued, or the error `submit_csr` would have raised."""

    certificate_id: str
    job_id: str = ""
    version: CertificateVersion | None = None
    error: Exception | None = None


def submit_csrs(agent: Agent, submissions: list[dict], *, now: datetime | None = None) -> list[CSRResult]:
    """`submit_csr` for many certificates in one call: each {certificate_id, csr_pem, job_id?} is checked and
    answered on its own (one refused CSR does not hold up the others), and the signed ones are written together
    through `issue_many`. Results in input order; a second submission for a job already taken in this call is
    refused as a second `submit_csr` would be. The certificates and their waiting jobs are read in one query
    each rather than per submission."""
    ensure_active(agent)
    results = [CSRResult(certificate_id=item["certificate_id"]) for item in submissions]
    wanted = {item["certificate_id"] for item in submissions}
    certificates = {
        certificate.pk: certificate
        for certificate in _visible_certificates(agent)
        .filter(pk__in=wanted)
        .select_related("issuer", "profile", "owner", "renewal_policy")
        .prefetch_related("targets")
    }
    waiting: dict[str, list[Job]] = {}
    for job in _jobs_awaiting_csr(agent).filter(certificate_id__in=certificates).order_by("created_at", "id"):
        waiting.setdefault(job.certificate_id, []).append(job)
    requests: dict[int, IssueRequest] = {}
    for index, (result, item) in enumerate(zip(results, submissions, strict=True)):
        certificate = certificates.get(item["certificate_id"])
        if certificate is None:
            result.error = NotYours(f"certificate {item['certificate_id']} not found")
            continue
        candidates = waiting.get(certificate.pk, [])
        job = next((j for j in candidates if not item.get("job_id") or j.pk == item["job_id"]), None)
        if job is None:
            result.error = NoCSRJob(f"no job is awaiting a CSR for certificate {certificate.pk}")
            continue
        candidates.remove(job)  # taken by this submission
        job.certificate = certificate
        result.job_id = job.pk
        requests[index] = IssueRequest(certificate, item["csr_pem"], job, agent=agent)
    outcomes = issue_many(list(requests.values()), actor=agent.name, actor_type=AGENT_ACTOR_TYPE, now=now)
    for index, outcome in zip(requests, outcomes, strict=True):
        results[index].version, results[index].error = outcome.version, outcome.error
    return results


def _jobs_awaiting_csr(agent: Agent):
    """Issuance/renewal jobs waiting for a CSR from this agent, or from any agent (the first to send one takes it)."""
    return Job.objects.filter(type__in=CSR_JOB_TYPES, status=JobStatus.AWAITING_CSR).filter(
        Q(agent=agent) | Q(agent__isnull=True)
    )


def _job_awaiting_csr(agent: Agent, certificate: ManagedCertificate, job_id: str) -> Job:
    """The certificate's oldest job waiting for a CSR from this agent or from any (issuance assigns it)."""
    jobs = _jobs_awaiting_csr(agent).filter(certificate=certificate)
    if job_id:
        jobs = jobs.filter(pk=job_id)
    job = jobs.order_by("created_at", "id").first()
    if job is None:
        raise NoCSRJob(f"no job is awaiting a CSR for certificate {certificate.pk}")
    return job


def report_status(
    agent: Agent, job_id: str, *, status: str, error: str = "", detail: str = "", now: datetime | None = None
) -> Job:
    """Apply an agent's report on one of its jobs through the job state machine.

    A deployment reported Completed stamps `last_deployment_at` and queues DeploymentSuccess to the owner; Failed
    queues DeploymentFailure with the error. Both are audited with actor type Agent.
    """
    ensure_active(agent)
    now = now or timezone.now()
    if status not in REPORTABLE_STATUSES:
        raise BadReport(f"status must be one of {', '.join(REPORTABLE_STATUSES)}")
    with transaction.atomic():
        if not _visible_jobs(agent).filter(pk=job_id).exists():
            raise NotYours(f"job {job_id} not found")
        job = (
            Job.objects.select_related("certificate__owner", "target")
            .select_for_update(of=("self",))
            .get(pk=job_id)
        )
        if job.type != JobType.DEPLOYMENT and status != JobStatus.FAILED:
            raise BadReport("an issuance or renewal job completes when its CSR is signed; report only Failed")
        if status == JobStatus.RUNNING and job.status == JobStatus.RUNNING:
            return job  # the claim already started it; the agent's confirmation changes nothing
        if job.type in CSR_JOB_TYPES:
            # The agent could not make a key or CSR: the same failure path as a failed signing.
            fail_issuing_job(
                job,
                f"agent {agent.name}: {error or 'no error given'}",
                actor=agent.name,
                actor_type=AGENT_ACTOR_TYPE,
                now=now,
            )
            return job
        job_service.transition(
            job, status, actor=agent.name, actor_type=AGENT_ACTOR_TYPE, error=error[:2000], now=now
        )
        if job.agent_id is None:
            Job.objects.filter(pk=job.pk).update(agent=agent)
        if job.type == JobType.DEPLOYMENT and status in (JobStatus.COMPLETED, JobStatus.FAILED):
            _deployment_outcome(
                agent, job, succeeded=status == JobStatus.COMPLETED, error=error, detail=detail, now=now
            )
        if job.type == JobType.DEPLOYMENT and status == JobStatus.COMPLETED:
            # Verified anew after every deployment; a broker outage leaves it pending (POST /jobs/{id}/verify).
            Job.objects.filter(pk=job.pk).update(
                verification_status=VerificationStatus.PENDING, verified_at=None
            )
            job_id = job.pk
            transaction.on_commit(lambda: dispatch.enqueue(VERIFY_TASK, job_id), robust=True)
    logger.info("agent job report", extra={"agent_id": agent.id, "job_id": job.id, "status": status})
    return job


def _deployment_outcome(
    agent: Agent, job: Job, *, succeeded: bool, error: str, detail: str, now: datetime
) -> None:
    record_deployment_outcome(
        job,
        succeeded=succeeded,
        error=error,
        detail=detail,
        by=f"agent {agent.name}",
        actor=agent.name,
        actor_type=AGENT_ACTOR_TYPE,
        now=now,
    )


def record_deployment_outcome(
    job: Job,
    *,
    succeeded: bool,
    error: str = "",
    detail: str = "",
    by: str,
    actor: str,
    actor_type: str,
    now: datetime,
) -> None:
    """After a deployment job reached Completed or Failed: stamp the certificate, notify the owner, count, audit.

    Call it in the transaction that moved the job.
    """
    certificate = job.certificate
    where = f"{job.target.name} ({job.target.type})" if job.target_id else "its target"
    if succeeded:
        ManagedCertificate.objects.filter(pk=certificate.pk).update(last_deployment_at=now)
        message = f"Certificate {certificate.name} ({certificate.common_name}) deployed to {where} by {by}."
        if detail:
            message += f" {detail}"
        kind, action = NotificationType.DEPLOYMENT_SUCCESS, "deployment_job_completed"
    else:
        message = (
            f"Deployment of certificate {certificate.name} ({certificate.common_name}) to {where} "
            f"by {by} failed: {error or 'no error given'}"
        )
        kind, action = NotificationType.DEPLOYMENT_FAILURE, "deployment_job_failed"
    counters.increment(
        DEPLOYMENT_COUNTER,
        {
            "target_type": job.target.type if job.target_id else "",
            "outcome": "success" if succeeded else "failure",
        },
    )
    enqueue(
        type=kind,
        channel=Channel.EMAIL,
        recipient=certificate.owner.email,
        subject=f"[certctl] {kind}: {certificate.common_name}",
        message=message,
        certificate_id=certificate.pk,
        dedup_key=f"{kind}:{job.pk}:{job.attempts}",
    )
    details = {"agent_id": job.agent_id, "target_id": job.target_id, "certificate_id": certificate.pk}
    details.update({"detail": detail} if succeeded else {"error": error[:2000]})
    record(
        action,
        resource_type="job",
        resource_id=job.pk,
        actor=actor,
        actor_type=actor_type,
        details=details,
        now=now,
    )
