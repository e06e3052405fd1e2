"""Post-deployment verification: after an agent reports a deployment Completed, the server shakes hands with the
target's endpoint (its config's `verify_endpoint`, "host:port", optional `verify_sni`) and compares the SHA-256
fingerprint of the leaf it serves with the deployed version's.

Outcomes on the job: `success`; `failed` (another certificate served, or no handshake) which also moves the job
from Completed to Failed with the error and sends DeploymentFailure, so the retry sweep deploys again; `skipped`
when the target names no endpoint (or names one that cannot be parsed: the error says why).
The handshake is discovery's probe (certificates.discovery.services.probe), run outside any transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.serialization import Encoding
from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from certctl.kernel.certificate_facts import fingerprint
from certificates.agents.services.work import record_deployment_outcome
from certificates.discovery.services.probe import Outcome, handshake
from certificates.discovery.services.targets import Probe, Range, parse_entry
from certificates.enums import JobStatus, JobType, VerificationStatus
from certificates.inventory.models import CertificateVersion
from certificates.issuance.models import Job

logger = logging.getLogger(__name__)

VERIFY_TIMEOUT = 10.0  # seconds for connect and handshake together
DEFAULT_PORT = 443
SYSTEM_ACTOR, SYSTEM_ACTOR_TYPE = "system", "System"


class NotVerifiable(Exception):
    """Only a Completed deployment job can be verified (the API answers 409)."""


class EndpointConfigError(ValueError):
    """The target's `verify_endpoint` / `verify_sni` cannot be used; the message says why."""


def endpoint_probe(config: dict | None) -> Probe | None:
    """The handshake to make for a target config: None without `verify_endpoint`, EndpointConfigError when it
    is not one host or address with an optional port (port 443 by default)."""
    config = config if isinstance(config, dict) else {}
    raw, sni = config.get("verify_endpoint"), config.get("verify_sni")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or (sni is not None and not isinstance(sni, str)):
        raise EndpointConfigError("verify_endpoint and verify_sni are strings")
    try:
        parsed = parse_entry(raw, (DEFAULT_PORT,))
    except ValueError as exc:
        raise EndpointConfigError(f"verify_endpoint {exc}") from exc
    if isinstance(parsed, Range) or len(parsed) != 1:
        raise EndpointConfigError(f"verify_endpoint {raw!r} must be one host:port, not a range")
    probe = parsed[0]
    if sni and sni.strip():
        probe = Probe(host=probe.host, port=probe.port, sni=sni.strip())
    return probe


@dataclass
class Check:
    status: str
    served: str = ""
    error: str = ""


def _check(job: Job, timeout: float) -> Check:
    """The handshake and comparison, touching nothing (no transaction is open while it waits on the network)."""
    target = job.target
    try:
        probe = endpoint_probe(target.config if target else None)
    except EndpointConfigError as exc:
        return Check(VerificationStatus.SKIPPED, error=str(exc))
    if probe is None:
        return Check(VerificationStatus.SKIPPED, error="the target names no verify_endpoint")
    expected = job.version or job.certificate.versions.order_by("-created_at", "-id").first()
    if expected is None:
        return Check(VerificationStatus.FAILED, error="the certificate has no issued version to compare with")
    result = handshake(probe, timeout)
    if result.outcome != Outcome.FOUND:
        detail = f": {result.error}" if result.error else ""
        return Check(VerificationStatus.FAILED, error=f"{probe.label} {result.outcome.value}{detail}"[:2000])
    served = fingerprint(result.chain[0].public_bytes(Encoding.DER))
    # The agent deploys the newest version when it runs: a version issued after the job's is as good.
    if (
        served == expected.fingerprint_sha256
        or CertificateVersion.objects.filter(
            certificate_id=job.certificate_id, fingerprint_sha256=served, created_at__gte=expected.created_at
        ).exists()
    ):
        return Check(VerificationStatus.SUCCESS, served=served)
    return Check(
        VerificationStatus.FAILED,
        served=served,
        error=f"{probe.label} serves certificate {served}, not the deployed version {expected.fingerprint_sha256}",
    )


def verify(job_id: str, *, now: datetime | None = None, timeout: float = VERIFY_TIMEOUT) -> Job:
    """Verify a Completed deployment job now and store the outcome on it (see the module docstring).

    Raises Job.DoesNotExist, or NotVerifiable for another job type or status. A job that moved while the
    handshake ran (cancelled, re-reported) keeps its new state and is returned as it is."""
    job = Job.objects.select_related("target", "version", "certificate__owner").get(pk=job_id)
    if job.type != JobType.DEPLOYMENT:
        raise NotVerifiable(f"job {job.pk} is a {job.type} job; only deployments are verified")
    if job.status != JobStatus.COMPLETED:
        raise NotVerifiable(f"job {job.pk} is {job.status}; only a Completed deployment can be verified")
    check = _check(job, timeout)
    now = now or timezone.now()
    stored = {
        "verification_status": check.status,
        "verified_at": now,
        "verification_fingerprint": check.served,
        "verification_error": check.error,
    }
    failed = check.status == VerificationStatus.FAILED
    with transaction.atomic():
        moves = {"status": JobStatus.FAILED, "last_error": check.error, "completed_at": now} if failed else {}
        # Conditional on Completed: a cancel or a late report meanwhile wins over this outcome.
        if not Job.objects.filter(pk=job.pk, status=JobStatus.COMPLETED).update(
            **stored, **moves, updated_at=now
        ):
            job.refresh_from_db()
            return job
        for name, value in {**stored, **moves}.items():
            setattr(job, name, value)
        record(
            f"deployment_verification_{check.status}",
            resource_type="job",
            resource_id=job.pk,
            details={
                "certificate_id": job.certificate_id,
                "target_id": job.target_id,
                "version_id": job.version_id,
                "served_fingerprint": check.served,
                **({"error": check.error} if check.error else {}),
            },
            now=now,
        )
        if failed:
            # Completed -> Failed outside the state machine's table (Completed is terminal for everything else):
            # the deployment was reported done but the endpoint does not serve it.
            record_deployment_outcome(
                job,
                succeeded=False,
                error=f"verification failed: {check.error}",
                by="post-deployment verification",
                actor=SYSTEM_ACTOR,
                actor_type=SYSTEM_ACTOR_TYPE,
                now=now,
            )
    logger.info(
        "deployment verified",
        extra={"job_id": job.pk, "verification_status": check.status, "error": check.error},
    )
    return job


def verify_reported(job_id: str) -> str:
    """The Celery task's body: verify a job queued by an agent's Completed report (certificates.agents.services.work),
    unless it left Completed meanwhile."""
    try:
        return verify(job_id).verification_status
    except (Job.DoesNotExist, NotVerifiable) as exc:
        logger.info("deployment verification not run", extra={"job_id": job_id, "reason": str(exc)})
        return "not_run"
