"""Writing what was issued: jobs Completed, versions, server keys, deployment jobs, certificates Active, the
RenewalSuccess notification and the audit rows, in as few statements as the database allows.

certificates.issuance.services.issuance checks and signs; this module only records, in the caller's transaction.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.services.record import new_event as new_audit_event
from certctl.kernel import counters, rows
from certctl.kernel.crypto import encrypt_bytes
from certctl.kernel.metrics import BufferedHistogram
from certificates.compliance.services import evaluate as compliance
from certificates.enums import CertificateStatus, JobStatus, JobType
from certificates.inventory.models import Agent, CertificateVersion, DeploymentTarget, ManagedCertificate
from certificates.issuance.models import Job, ServerGeneratedKey
from certificates.issuance.services import jobs
from notifications.enums import Channel, NotificationType
from notifications.models import NotificationEvent
from notifications.services import incidents, outbox

logger = logging.getLogger(__name__)

ISSUANCE_COUNTER = "certctl_issuance_total"
# Counted in memory and written in batches: one UPSERT per issuance cost ~0.4 ms and a round trip.
issuance_counter = counters.BufferedCounter(ISSUANCE_COUNTER)
ISSUANCE_SECONDS = "certctl_issuance_duration_seconds"
# The issuer's time to sign one certificate, observed in memory like the counter (observe_many's layout). A local
# CA signs in well under a millisecond, a remote CA may take a minute.
issuance_seconds = BufferedHistogram(
    ISSUANCE_SECONDS, (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
)
ISSUANCE_FAILURES = "certctl_issuance_failures_total"
# The reference's error classes; issuance._error_class maps certctl's refusals and issuer errors onto them.
ERROR_CLASSES = (
    "timeout",
    "auth",
    "rate_limited",
    "validation",
    "upstream_5xx",
    "upstream_4xx",
    "network",
    "other",
)
issuance_failures = counters.BufferedCounter(ISSUANCE_FAILURES)


@dataclass
class IssueRequest:
    """One certificate to issue from a CSR (and, in server keygen mode, the key to store with it)."""

    certificate: ManagedCertificate
    csr_pem: str
    job: Job | None = None
    server_key_pem: str | None = None
    # The agent whose CSR this is: it takes the (unassigned) job with the job's move to Running, so a CSR that
    # is refused leaves the job as it was.
    agent: Agent | None = None


@dataclass
class Signed:
    """A checked and signed issuance, waiting to be written."""

    request: IssueRequest
    version: CertificateVersion
    error: Exception | None = None  # the database refused its write (issue_many)


@contextlib.contextmanager
def restored_if_refused(batch: list[Signed]) -> Iterator[None]:
    """record_issued (and a job's move to Running) change the caller's jobs and certificates in memory; when the
    transaction is refused (as late as COMMIT, for a foreign key) put them back, so a retry, or the caller failing
    the job, sees them as they are in the database."""
    saved = [
        (obj, {name: getattr(obj, name) for name in names})
        for one in batch
        for obj, names in ((one.request.job, _JOB_FIELDS), (one.request.certificate, _CERTIFICATE_FIELDS))
        if obj is not None
    ]
    try:
        yield
    except DatabaseError:
        for obj, values in saved:
            for name, value in values.items():
                setattr(obj, name, value)
        raise


_JOB_FIELDS = ("status", "attempts", "started_at", "updated_at", "completed_at", "last_error", "agent_id")
_CERTIFICATE_FIELDS = ("status", "expires_at", "last_renewal_at", "updated_at")


def record_issued(
    signed: list[Signed],
    actor: str,
    actor_type: str,
    now: datetime,
    *,
    strict: bool,
    audit: Sequence[AuditEvent] = (),
) -> list[Signed]:
    """Write what `signed` issued, in the caller's transaction (or as one autocommitted statement when no job
    is involved): jobs Completed, versions, server keys, deployment jobs, certificates Active, RenewalSuccess
    rows and audit rows. Returns what was written: all of it, or without the issuances whose job moved
    meanwhile when not `strict` (when `strict`, that raises InvalidTransition)."""
    running = [one.request.job for one in signed if one.request.job is not None]
    completed, new_rows = jobs.complete_running(
        running, actor=actor, actor_type=actor_type, now=now, strict=strict
    )
    new_rows = [*audit, *new_rows]  # earlier moves of the same jobs (to Running) first
    if len(completed) != len(running):
        kept = {job.pk for job in completed}
        signed = [one for one in signed if one.request.job is None or one.request.job.pk in kept]
    if not signed:
        return []
    events = []
    for one in signed:
        certificate, version, job = one.request.certificate, one.version, one.request.job
        new_rows.append(version)
        if one.request.server_key_pem:
            new_rows.append(
                ServerGeneratedKey(
                    version=version, encrypted_private_key=encrypt_bytes(one.request.server_key_pem.encode())
                )
            )
        deployments = deployment_jobs(certificate, now, version=version)
        new_rows += deployments
        event = outbox.new_event(
            type=NotificationType.RENEWAL_SUCCESS,
            channel=Channel.EMAIL,
            recipient=certificate.owner.email,
            subject=f"Certificate {certificate.common_name} issued",
            message=(
                f"Certificate {certificate.name} ({certificate.common_name}) was issued by "
                f"{certificate.issuer.name}: serial {version.serial_number}, valid until "
                f"{version.not_after:%Y-%m-%d}."
            ),
            certificate_id=certificate.pk,
        )
        events.append(event)
        new_rows.append(event)
        new_rows.append(
            new_audit_event(
                "certificate_issued",
                resource_type="certificate",
                resource_id=certificate.pk,
                actor=actor,
                actor_type=actor_type,
                details={
                    "version_id": version.pk,
                    "serial": version.serial_number,
                    "fingerprint_sha256": version.fingerprint_sha256,
                    "issuer_id": certificate.issuer_id,
                    "not_after": version.not_after.isoformat(),
                    "job_id": job.pk if job else None,
                    "deployment_job_ids": [d.pk for d in deployments],
                },
                now=now,
            )
        )
    renewed = {one.request.certificate.pk: one.request.certificate.name for one in signed}
    open_incidents = rows.write(
        new_rows,
        postgres_updates=_activate([one.version for one in signed], now),
        postgres_query=_incident_probe(list(renewed)),
    )
    for one in signed:
        certificate = one.request.certificate
        certificate.status = CertificateStatus.ACTIVE
        certificate.expires_at = one.version.not_after
        certificate.last_renewal_at = certificate.updated_at = now
    outbox.schedule_delivery([event.id for event in events])
    if open_incidents is None or open_incidents:  # not PostgreSQL (no probe), or something to resolve
        incidents.resolve_incidents_many(renewed, reason="renewed", now=now)
    compliance.schedule(list(renewed))  # judged against the compliance rules by the task, after commit
    by_type = Counter(one.request.certificate.issuer.type for one in signed)
    transaction.on_commit(lambda: _count_success(by_type))
    for one in signed:
        logger.info(
            "certificate issued",
            extra={
                "certificate_id": one.request.certificate.pk,
                "serial": one.version.serial_number,
                "job_id": one.request.job.pk if one.request.job else None,
            },
        )
    return signed


def _incident_probe(certificate_ids: list[str]) -> rows.Statement:
    """A row when `incidents.resolve_incidents_many` would find something to act on for these certificates (its
    filter as one small SELECT, sent with the write): it almost never does, and its ORM read cost more than the
    rest of an issuance's bookkeeping."""
    params = (
        NotificationType.INCIDENT_RESOLVED,
        list(incidents.INCIDENT_CHANNELS),
        list(incidents.TRIGGERED),
        NotificationType.EXPIRATION_WARNING,
    )
    if len(certificate_ids) <= _PROBE_LISTED:
        return _incident_probe_sql(len(certificate_ids)), (*certificate_ids, *params)
    return _incident_probe_sql(0), (certificate_ids, *params)


# A write of a few issuances is a prepared statement, planned once for every later call: its ids are listed so
# that the cached plan knows how many there are and probes the index (with one array parameter of unknown
# length, the cached plan scanned the whole notifications table). Bigger writes are planned each time.
_PROBE_LISTED = 16


@functools.cache
def _incident_probe_sql(listed: int) -> str:
    """incidents.resolve_incidents_many's filter; tests/certificates/issuance/test_incident_probe.py holds them
    equal. `listed` ids as separate parameters, or 0 for one array parameter."""
    ids = f"IN ({', '.join(['%s'] * listed)})" if listed else "= ANY(%s::varchar[])"
    return (
        f"SELECT 1 FROM {NotificationEvent._meta.db_table} WHERE certificate_id {ids}"  # noqa: S608
        " AND type <> %s AND (escalation_due_at IS NOT NULL OR (channel = ANY(%s::varchar[])"
        " AND status = ANY(%s::varchar[]) AND (incident_key > '' OR type = %s))) LIMIT 1"
    )


def _count_success(by_type: Counter) -> None:
    for issuer_type, count in by_type.items():
        issuance_counter.increment({"issuer_type": issuer_type, "outcome": "success"}, count)


def _activate(versions: list[CertificateVersion], now: datetime) -> list[rows.Statement]:
    """Each certificate's new current state (Active, expiry, last renewal): a CTE of the write on PostgreSQL;
    elsewhere updated here, in the caller's transaction."""
    if connection.vendor != "postgresql":
        for version in versions:
            ManagedCertificate.objects.filter(pk=version.certificate_id).update(
                status=CertificateStatus.ACTIVE,
                expires_at=version.not_after,
                last_renewal_at=now,
                updated_at=now,
                **ARI_CLEARED,
            )
        return []
    if len(versions) == 1:  # the common case keeps a plan PostgreSQL can cache (unnest's estimate cannot)
        (version,) = versions
        return [
            (
                _activate_sql(False),
                (CertificateStatus.ACTIVE, now, now, version.not_after, version.certificate_id),
            )
        ]
    ids = [version.certificate_id for version in versions]
    expiries = [version.not_after for version in versions]
    return [(_activate_sql(True), (CertificateStatus.ACTIVE, now, now, ids, expiries))]


# The renewal information (ARI) was the previous version's: the refresh sweep asks the CA about the new one.
ARI_CLEARED = {
    "ari_window_start": None,
    "ari_window_end": None,
    "ari_explanation_url": "",
    "ari_renew_at": None,
    "ari_checked_at": None,
    "ari_next_check_at": None,
}


@functools.cache
def _activate_sql(many: bool) -> str:
    qn = connection.ops.quote_name
    cert = ManagedCertificate._meta
    status, renewed, updated, expires = (
        qn(cert.get_field(name).column) for name in ("status", "last_renewal_at", "updated_at", "expires_at")
    )
    cleared = ", ".join(
        f"{qn(cert.get_field(name).column)} = {'NULL' if value is None else repr(value)}"
        for name, value in ARI_CLEARED.items()
    )
    table, pk = qn(cert.db_table), qn(cert.pk.column)
    if not many:
        return f"UPDATE {table} SET {status} = %s, {renewed} = %s, {updated} = %s, {expires} = %s, {cleared} WHERE {pk} = %s"  # noqa: S608 - names from our models
    return (
        f"UPDATE {table} AS c SET {status} = %s, {renewed} = %s, {updated} = %s, {expires} = v.expires_at, "  # noqa: S608
        f"{cleared} FROM unnest(%b::varchar[], %b::timestamptz[]) AS v(id, expires_at) WHERE c.{pk} = v.id"
    )


def deployment_jobs(
    certificate: ManagedCertificate,
    now: datetime,
    *,
    version: CertificateVersion | None = None,
    targets: Iterable[DeploymentTarget] | None = None,
) -> list[Job]:
    """Unsaved: one Pending Deployment job of `version` per enabled, live target the certificate is mapped to
    (or per one of `targets`, already chosen among those), owned by its agent."""
    if targets is not None:
        targets = [t for t in targets if t.enabled and t.retired_at is None]
    # Callers issuing many prefetch; the prefetched (evaluated) queryset is read as it is: `.all()` would clone it.
    elif (prefetched := getattr(certificate, "_prefetched_objects_cache", {}).get("targets")) is not None:
        targets = [t for t in prefetched if t.enabled and t.retired_at is None]
    else:
        targets = certificate.targets.filter(enabled=True, retired_at__isnull=True).only("id", "agent_id")
    return [
        Job(
            type=JobType.DEPLOYMENT,
            certificate=certificate,
            target_id=target.pk,
            agent_id=target.agent_id,
            version=version,
            status=JobStatus.PENDING,
            scheduled_at=now,
            max_attempts=certificate.renewal_policy.max_retries or 1,
        )
        for target in targets
    ]
