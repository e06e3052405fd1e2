"""Revoking certificates, one or in bulk: status, revocation record, audit and notifications in one transaction.

After commit the issuer's CRL is regenerated in the background and cached OCSP answers for the serials are dropped.
For the local CA the CRL/OCSP state *is* the issuer being told, so its revocation rows are `issuer_notified`; a
CA that must be told (ACME) gets one `certificates.revoke_at_issuer` task per revocation (issuer_revocation.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone

from audit.services.record import record, record_many
from certctl.kernel import counters, dispatch
from certificates.enums import REVOCATION_REASON_CODES, CertificateStatus, RevocationReason
from certificates.inventory.models import CertificateVersion, Issuer, ManagedCertificate
from certificates.issuance.issuers.registry import registered_types, types_revoking_at_ca
from certificates.revocation.models import CertificateRevocation
from certificates.revocation.services.issuer_revocation import REVOKE_AT_ISSUER_TASK
from certificates.revocation.services.revocation_rows import drop_ocsp_cache, insert_revocations
from notifications.enums import Channel, NotificationType, SeverityTier
from notifications.services.incidents import resolve_incidents_many
from notifications.services.outbox import IMMEDIATE_DELIVERY_LIMIT, PendingEvent, enqueue_many

logger = logging.getLogger(__name__)

REVOKED_METRIC = "certctl_certificates_revoked_total"
VALID_REASONS = tuple(REVOCATION_REASON_CODES)
NOT_REVOCABLE = (CertificateStatus.REVOKED, CertificateStatus.ARCHIVED)
BULK_CHUNK_SIZE = 1000
PENDING_SWEEP_TASK = "notifications.process_pending"
REGENERATE_CRL_TASK = "certificates.regenerate_crl"
# What revoking reads of a certificate (loading whole rows with their JSON and dates was a third of a bulk revoke).
BULK_FIELDS = ("id", "name", "common_name", "status", "issuer_id", "issuer__type", "owner__email",
               "renewal_policy__alert_channels")  # fmt: skip
BULK_CRITERIA = ("certificate_ids", "owner_id", "team_id", "issuer_id", "profile_id", "agent_id")


class RevocationError(Exception):
    """A certificate cannot be revoked; `code` is not_found, conflict or invalid."""

    code = "invalid"


class InvalidReason(RevocationError):
    code = "invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid revocation reason {reason!r}; valid reasons: {', '.join(VALID_REASONS)}")


class CertificateNotFound(RevocationError):
    code = "not_found"


class NotRevocable(RevocationError):
    code = "conflict"


def normalize_reason(reason: str | None) -> str:
    """A missing or empty reason is `unspecified`; anything else must be one of the RFC 5280 names (case-sensitive)."""
    if reason is None or reason == "":
        return RevocationReason.UNSPECIFIED.value
    if reason not in REVOCATION_REASON_CODES:
        raise InvalidReason(str(reason))
    return reason


@dataclass
class BulkResult:
    total_matched: int = 0
    total_revoked: int = 0
    total_skipped: int = 0
    total_failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "total_matched": self.total_matched,
            "total_revoked": self.total_revoked,
            "total_skipped": self.total_skipped,
            "total_failed": self.total_failed,
            "errors": self.errors,
        }


def revoke_certificate(
    certificate_id: str,
    reason: str | None = None,
    *,
    actor: str,
    actor_type: str = "User",
    now: datetime | None = None,
) -> CertificateRevocation:
    """Revoke the current version of one certificate. Raises InvalidReason, CertificateNotFound or NotRevocable."""
    reason = normalize_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        cert = (
            ManagedCertificate.objects.select_for_update(of=("self",))
            .select_related("owner", "renewal_policy", "issuer")
            .filter(pk=certificate_id)
            .first()
        )
        if cert is None:
            raise CertificateNotFound(f"certificate {certificate_id} not found")
        if cert.status == CertificateStatus.REVOKED:
            raise NotRevocable("certificate is already revoked")
        if cert.status == CertificateStatus.ARCHIVED:
            raise NotRevocable("cannot revoke an archived certificate")
        version = _latest_versions([cert.pk]).get(cert.pk)
        if version is None:
            raise NotRevocable("certificate has no issued version to revoke")
        revocations = _apply([(cert, version)], reason, actor=actor, actor_type=actor_type, now=now)
    return revocations[0]


def resolve_bulk_criteria(criteria: dict) -> list[str]:
    """IDs of every certificate matching all given criteria (AND), oldest first; no cap on the number."""
    queryset = ManagedCertificate.objects.all()
    simple = {
        "owner_id": "owner_id",
        "team_id": "team_id",
        "issuer_id": "issuer_id",
        "profile_id": "profile_id",
    }
    for key, lookup in simple.items():
        if criteria.get(key):
            queryset = queryset.filter(**{lookup: criteria[key]})
    if criteria.get("agent_id"):
        queryset = queryset.filter(targets__agent_id=criteria["agent_id"])
    if criteria.get("certificate_ids"):
        queryset = queryset.filter(pk__in=list(criteria["certificate_ids"]))
    return list(queryset.order_by("created_at", "id").values_list("id", flat=True).distinct())


def bulk_revoke(
    criteria: dict,
    reason: str | None = None,
    *,
    actor: str,
    actor_type: str = "User",
    now: datetime | None = None,
    chunk_size: int | None = None,
) -> BulkResult:
    """Revoke every certificate matching `criteria`, one transaction per chunk; revoked/archived ones are skipped.

    Writes one `certificate_revoked` audit event per certificate and one `bulk_revocation_initiated` summary.
    """
    reason = normalize_reason(reason)
    given = {k: v for k, v in criteria.items() if k in BULK_CRITERIA and v}
    if not given:
        raise RevocationError(f"at least one criterion is required: {', '.join(BULK_CRITERIA)}")
    now = now or timezone.now()
    ids = resolve_bulk_criteria(given)
    result = BulkResult(total_matched=len(ids))
    chunk_size = chunk_size or BULK_CHUNK_SIZE
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        try:
            _revoke_chunk(chunk, reason, actor, actor_type, now, result)
        except DatabaseError:
            # The chunk's transaction rolled back as a whole; earlier chunks stay revoked and later ones are
            # still tried (a deadlock or a lost connection need not stop them). Report it rather than a 500.
            logger.exception(
                "bulk revocation: a chunk of %d certificates failed and was rolled back", len(chunk)
            )
            result.total_failed += len(chunk)
            result.errors.extend(
                {"certificate_id": pk, "error": "database error; not revoked, retry"} for pk in chunk
            )
    if result.total_revoked:
        _kick_pending_sweep()
    summary = {k: (",".join(v) if k == "certificate_ids" else v) for k, v in given.items()}
    with transaction.atomic():
        record(
            "bulk_revocation_initiated",
            resource_type="certificate",
            resource_id="bulk",
            actor=actor,
            actor_type=actor_type,
            details={
                **summary,
                "reason": reason,
                **{k: v for k, v in result.as_dict().items() if k != "errors"},
            },
            now=now,
        )
    return result


def _revoke_chunk(
    ids: list[str], reason: str, actor: str, actor_type: str, now: datetime, result: BulkResult
) -> None:
    """One chunk in one transaction; `result` is updated only once it committed (a refused chunk counts as
    failed as a whole, in bulk_revoke)."""
    chunk = BulkResult()
    with transaction.atomic():
        certs = list(
            ManagedCertificate.objects.select_for_update(of=("self",))
            .select_related("owner", "renewal_policy", "issuer")
            .only(*BULK_FIELDS)
            .filter(pk__in=ids)
        )
        revocable = [c for c in certs if c.status not in NOT_REVOCABLE]
        chunk.total_skipped += len(certs) - len(revocable)
        versions = _latest_versions([c.pk for c in revocable])
        pairs = []
        for cert in revocable:
            if cert.pk in versions:
                pairs.append((cert, versions[cert.pk]))
            else:
                chunk.total_failed += 1
                chunk.errors.append({"certificate_id": cert.pk, "error": "no issued version to revoke"})
        if pairs:
            _apply(pairs, reason, actor=actor, actor_type=actor_type, now=now, deliver_now=False)
        chunk.total_revoked += len(pairs)
    # Certificates deleted between resolution and the chunk count as failed, so the totals add up.
    missing = set(ids) - {c.pk for c in certs}
    chunk.total_failed += len(missing)
    chunk.errors.extend({"certificate_id": pk, "error": "certificate not found"} for pk in sorted(missing))
    result.total_revoked += chunk.total_revoked
    result.total_skipped += chunk.total_skipped
    result.total_failed += chunk.total_failed
    result.errors += chunk.errors


def _latest_versions(cert_ids: list[str]) -> dict[str, CertificateVersion]:
    latest: dict[str, CertificateVersion] = {}
    versions = CertificateVersion.objects.filter(certificate_id__in=cert_ids).only(
        "id", "certificate_id", "issuer_id", "serial_number"
    )
    for version in versions.order_by("-created_at", "-id"):
        latest.setdefault(version.certificate_id, version)
    return latest


def _apply(
    pairs: list[tuple[ManagedCertificate, CertificateVersion]],
    reason: str,
    *,
    actor: str,
    actor_type: str,
    now: datetime,
    deliver_now: bool = True,
) -> list[CertificateRevocation]:
    """The state change itself, for certificates already locked and checked (inside the caller's transaction).

    `deliver_now=False` (bulk) leaves the notifications to the pending sweep instead of one task per row.
    """
    ManagedCertificate.objects.filter(pk__in=[c.pk for c, _ in pairs]).update(
        status=CertificateStatus.REVOKED, revoked_at=now, revocation_reason=reason, updated_at=now
    )
    rows = []
    issuer_types = _issuer_types(pairs)
    told_by_task = set(types_revoking_at_ca())
    for cert, version in pairs:
        cert.status, cert.revoked_at, cert.revocation_reason = CertificateStatus.REVOKED, now, reason
        issuer_id = version.issuer_id or cert.issuer_id
        issuer_type = issuer_types.get(issuer_id)
        rows.append(
            CertificateRevocation(
                certificate=cert,
                issuer_id=issuer_id,
                serial_number=version.serial_number,
                reason=reason,
                revoked_by=actor,
                revoked_at=now,
                issuer_notified=issuer_type in registered_types() and issuer_type not in told_by_task,
            )
        )
    # A serial revoked before (and un-archived since) keeps its first revocation record: the CRL date stands.
    insert_revocations(rows)
    record_many(
        [
            {
                "action": "certificate_revoked",
                "resource_type": "certificate",
                "resource_id": cert.pk,
                "actor": actor,
                "actor_type": actor_type,
                "details": {
                    "common_name": cert.common_name,
                    "serial": version.serial_number,
                    "reason": reason,
                },
                "now": now,
            }
            for cert, version in pairs
        ]
    )
    notifications = [
        n for cert, version in pairs for n in _notifications(cert, version.serial_number, reason)
    ]
    enqueue_many(notifications, deliver_first=IMMEDIATE_DELIVERY_LIMIT if deliver_now else 0)
    resolve_incidents_many({cert.pk: cert.name for cert, _ in pairs}, reason="revoked", now=now)
    counters.increment(REVOKED_METRIC, {"reason": reason}, len(pairs))

    by_issuer: dict[str, list[str]] = {}
    for row in rows:
        by_issuer.setdefault(row.issuer_id, []).append(row.serial_number)
    drop_ocsp_cache(by_issuer)
    at_ca = [
        (row.issuer_id, row.serial_number) for row in rows if issuer_types.get(row.issuer_id) in told_by_task
    ]
    transaction.on_commit(lambda: _after_commit(by_issuer, now, at_ca))
    return rows


def _issuer_types(pairs: list[tuple[ManagedCertificate, CertificateVersion]]) -> dict[str, str]:
    """Issuer id -> type of the issuers of the versions being revoked (the certificate's own is loaded)."""
    types = {cert.issuer_id: cert.issuer.type for cert, _ in pairs}
    others = {v.issuer_id for _, v in pairs if v.issuer_id and v.issuer_id not in types}
    if others:
        types.update(Issuer.objects.filter(pk__in=others).values_list("id", "type"))
    return types


def _notifications(cert: ManagedCertificate, serial: str, reason: str) -> list[PendingEvent]:
    message = f"Certificate {cert.name} ({cert.common_name}) was revoked: serial {serial}, reason {reason}."
    subject = f"[certctl] Certificate revoked: {cert.common_name}"
    return [
        PendingEvent(
            type=NotificationType.REVOCATION,
            channel=channel,
            message=message,
            recipient=cert.owner.email if channel == Channel.EMAIL else "",
            subject=subject,
            certificate_id=cert.pk,
            severity_tier=SeverityTier.CRITICAL,
        )
        for channel in revocation_channels(cert)
    ]


def revocation_channels(cert: ManagedCertificate) -> list[str]:
    """Webhook and Email always, plus the channels the policy routes critical alerts to (Email when unrouted)."""
    configured = (cert.renewal_policy.alert_channels or {}) if cert.renewal_policy_id else {}
    critical: Iterable[str] = configured.get(SeverityTier.CRITICAL, []) if configured else [Channel.EMAIL]
    channels = [Channel.WEBHOOK.value, Channel.EMAIL.value]
    for name in critical:
        if name in Channel.values and name not in channels:
            channels.append(name)
    return channels


def _kick_pending_sweep() -> None:
    """Bulk notifications are written without a task each; one run of the pending sweep sends them now."""
    if dispatch.is_eager():  # no worker to send it to; the beat-driven sweep runs in-process
        return
    try:
        dispatch.enqueue(PENDING_SWEEP_TASK)
    except Exception:  # the beat-driven sweep still sends them within CERTCTL_NOTIFICATION_PROCESS_INTERVAL
        logger.exception("could not schedule the pending-notification sweep")


def _after_commit(
    by_issuer: dict[str, list[str]], revoked_at: datetime, at_ca: list[tuple[str, str]]
) -> None:
    # Dropped again after commit: a request that read the old state during the transaction may have cached it.
    drop_ocsp_cache(by_issuer)
    for issuer_id in by_issuer:
        try:
            dispatch.enqueue(REGENERATE_CRL_TASK, issuer_id, timezone.now().isoformat())
        except (
            Exception
        ):  # the beat task regenerates every interval; a broker hiccup must not fail the revoke
            logger.exception("could not schedule CRL regeneration", extra={"issuer_id": issuer_id})
    for issuer_id, serial in at_ca:
        try:
            dispatch.enqueue(REVOKE_AT_ISSUER_TASK, issuer_id, serial)
        except (
            Exception
        ):  # the row stays issuer_notified=false with no error: visible, and retried from the admin
            logger.exception(
                "could not schedule revocation at the CA", extra={"issuer_id": issuer_id, "serial": serial}
            )
