"""The expiry check: move certificates to Expiring/Expired and send each routed destination its most urgent alert.

One run reads the policies once, streams the certificates that are inside their policy's alert window (or already
expired), plans their status moves and alerts in memory, and writes them in batches, each batch in one transaction
with a fixed number of statements: one UPDATE per kind of status move, one dedup probe, one bulk INSERT of new
alerts, one bulk audit INSERT and one metrics UPSERT. A batch closes at CHUNK_SIZE certificates or WRITE_BUDGET
planned rows, so memory stays bounded and the statement count never depends on the number of alerts.

Routing (services/routes.py) is resolved in memory from destinations, teams and policies read once per run. Per
certificate and destination only the most urgent threshold that has fired is written (first seen at 5 days with
thresholds 30/14/7: one alert, for 7); once expired, the certificate gets its own critical EXPIRED alert.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from certctl.kernel import counters
from certificates.enums import CertificateStatus
from certificates.expiry.models import ExpiryCheckRun
from certificates.expiry.services.audit_rows import AuditEntry, write_audit_batch
from certificates.expiry.services.discovered import check_discovered
from certificates.expiry.services.routes import EXPIRED, Resolver, RouteEntry, RoutingDirectory, routing_of
from certificates.expiry.services.routing import AlertText, PolicyRouting, alert_text, days_left, dedup_key
from certificates.inventory.models import ManagedCertificate, RenewalPolicy
from notifications.enums import NotificationStatus, NotificationType, SeverityTier
from notifications.models import NotificationEvent
from notifications.services.incidents import incident_key
from notifications.services.outbox import PendingEvent, enqueue_many

logger = logging.getLogger(__name__)

METRIC = "certctl_expiry_alerts_total"
# A batch is written (in one transaction) after this many certificates, or earlier once it holds this many
# planned rows (alerts + status moves): memory is bounded by the work, not by the size of the inventory.
CHUNK_SIZE = 20_000
WRITE_BUDGET = 50_000
FETCH_SIZE = 2_000
RUN_RETENTION = timedelta(days=30)
NOT_SCANNED = (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED, CertificateStatus.RENEWAL_IN_PROGRESS)
# Failed keeps its status (it tells an operator issuance broke); Expired never goes back from here.
MOVABLE = (CertificateStatus.PENDING, CertificateStatus.ACTIVE, CertificateStatus.EXPIRING)
CERT_FIELDS = (
    "id",
    "name",
    "common_name",
    "status",
    "expires_at",
    "renewal_policy_id",
    "owner__name",
    "owner__email",
    "team__name",
    "team_id",
)


@dataclass
class ExpiryCheckResult:
    """What one run did; the management command prints it and the task logs it."""

    scanned: int = 0
    status_changes: Counter = field(default_factory=Counter)
    created: Counter = field(default_factory=Counter)
    deduped: int = 0
    deferred: int = 0
    skipped_no_channels: int = 0
    skipped_invalid_channel: int = 0

    def count(self, kind: str, n: int, channel: str) -> None:
        """A discovered certificate's alert (services/discovered.py): created, deduped, deferred or skipped."""
        if kind == "created":
            self.created[channel] += n
        elif kind == "deduped":
            self.deduped += n
        elif kind == "deferred":
            self.deferred += n
        else:
            self.skipped_no_channels += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "status_changes": dict(sorted(self.status_changes.items())),
            "alerts_created": dict(sorted(self.created.items())),
            "deduped": self.deduped,
            "deferred": self.deferred,
            "skipped_no_channels": self.skipped_no_channels,
            "skipped_invalid_channel": self.skipped_invalid_channel,
        }


class _Candidate(NamedTuple):
    """One (certificate, threshold, destination) alert that may be new; its text is only built if it is."""

    row: tuple
    days: int
    threshold: int
    tier: str
    route: RouteEntry
    dedup_key: str
    escalation_due_at: datetime | None

    @property
    def channel(self) -> str:
        return self.route.channel


@dataclass
class _ChunkWork:
    audits: list[AuditEntry] = field(default_factory=list)
    candidates: list[_Candidate] = field(default_factory=list)
    moves: dict[tuple[str, str], list[tuple[str, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    metrics: Counter = field(default_factory=Counter)
    certificates: int = 0

    @property
    def planned_rows(self) -> int:
        return len(self.candidates) + len(self.audits) + sum(len(m) for m in self.moves.values())


def check_expiring_certificates(now: datetime | None = None) -> ExpiryCheckResult:
    """Scan certificates within their policy's largest alert threshold (or expired), update statuses, create alerts.

    Safe to run concurrently: status moves are conditional on the status read, and each alert's dedup key is
    unique in the database, so two runs never create the same alert twice.
    """
    now = now or timezone.now()
    started = time.monotonic()
    result = ExpiryCheckResult()
    routings = {policy.id: routing_of(policy) for policy in RenewalPolicy.objects.all()}
    resolver = Resolver(RoutingDirectory.load(), now)
    if routings:
        rows = (
            ManagedCertificate.objects.exclude(status__in=NOT_SCANNED)
            .filter(_alert_window(routings, now))
            .order_by("expires_at", "id")
            .values_list(*CERT_FIELDS)
        )
        work = _ChunkWork()
        for row in rows.iterator(chunk_size=FETCH_SIZE):
            _plan_certificate(row, routings[row[5]], resolver, work, result)
            if work.certificates >= CHUNK_SIZE or work.planned_rows >= WRITE_BUDGET:
                _write_batch(work, now, result)
                work = _ChunkWork()
        if work.certificates:
            _write_batch(work, now, result)
    # Owned, unmanaged discovered certificates: the same routing with the default thresholds (services/discovered.py).
    result.scanned += check_discovered(resolver, result.count, METRIC)
    _record_run(result, now, started)
    logger.info("expiry check finished", extra={"summary": result.as_dict()})
    return result


def _record_run(result: ExpiryCheckResult, now: datetime, started: float) -> None:
    """One row per run for the console (when did it last run, what did it do); runs over 30 days old go."""
    finished = timezone.now()
    ExpiryCheckRun.objects.create(
        checked_at=now,
        finished_at=finished,
        duration_ms=round((time.monotonic() - started) * 1000),
        scanned=result.scanned,
        alerts_created=sum(result.created.values()),
        status_changes=sum(result.status_changes.values()),
        summary=result.as_dict(),
    )
    ExpiryCheckRun.objects.filter(finished_at__lt=finished - RUN_RETENTION).delete()


def _alert_window(routings: dict[str, PolicyRouting], now: datetime) -> Q:
    """Already expired, or within the largest threshold of the certificate's own policy (exact, in SQL)."""
    by_window: dict[int, list[str]] = defaultdict(list)
    for policy_id, routing in routings.items():
        by_window[routing.max_threshold].append(policy_id)
    window = Q(expires_at__lte=now)
    for days, policy_ids in by_window.items():
        window |= Q(renewal_policy_id__in=policy_ids, expires_at__lt=now + timedelta(days=days + 1))
    return Q(expires_at__isnull=False) & window


@transaction.atomic
def _write_batch(work: _ChunkWork, now: datetime, result: ExpiryCheckResult) -> None:
    """Status moves, new alerts, their audit events and the metric for one batch, in one transaction."""
    for (old, new), moves in work.moves.items():
        moved = _move_status([cert_id for cert_id, _ in moves], old, new, now)
        for cert_id, expires_at in moves:
            if cert_id in moved:
                work.audits.append(
                    AuditEntry(
                        "certificate_status_changed",
                        "certificate",
                        cert_id,
                        {"status": f"{old} -> {new}", "expiry": _iso(expires_at)},
                        now,
                    )
                )
        result.status_changes[f"{old} -> {new}"] += len(moved)

    _create_alerts(work, now, result)
    write_audit_batch(work.audits)
    counters.increment_many(
        METRIC,
        [
            ({"channel": ch, "threshold": str(t), "result": res}, n)
            for (ch, t, res), n in work.metrics.items()
        ],
    )


def _plan_certificate(
    row: tuple, routing: PolicyRouting, resolver: Resolver, work: _ChunkWork, result: ExpiryCheckResult
) -> None:
    cert_id, status, expires_at, policy_id, team_id = row[0], row[3], row[4], row[5], row[9]
    now = resolver.now
    work.certificates += 1
    result.scanned += 1
    days = days_left(expires_at, now)
    expired = expires_at <= now
    target = CertificateStatus.EXPIRED if expired else CertificateStatus.EXPIRING
    if status in MOVABLE and status != target:
        work.moves[(status, target)].append((cert_id, expires_at))

    # Most urgent first; a destination takes only the first threshold that reaches it (the rest are implied).
    # Once expired only the EXPIRED alert fires: critical, whatever the policy's tiers, even after the 0-day one.
    fired = [EXPIRED] if expired else sorted(t for t in routing.thresholds if days <= t)
    reached: set[str] = set()
    for threshold in fired:
        tier = SeverityTier.CRITICAL if threshold == EXPIRED else routing.tier_for(threshold)
        route = resolver.tier_route(policy_id, routing, tier, team_id)
        base = {"threshold_days": threshold, "days_until_expiry": days, "severity_tier": tier}
        for invalid in route.invalid:
            work.audits.append(
                AuditEntry(
                    "expiration_alert_skipped_invalid_channel",
                    "certificate",
                    cert_id,
                    {**base, "invalid_channel": invalid},
                    now,
                )
            )
            work.metrics[(invalid, threshold, "failure")] += 1
            result.skipped_invalid_channel += 1
        included = resolver.held(route.included, tier, team_id)
        if not included:
            if not route.invalid and not route.held_for_digest:
                work.audits.append(
                    AuditEntry("expiration_alert_skipped_no_channels", "certificate", cert_id, base, now)
                )
                result.skipped_no_channels += 1
            continue
        escalation_due_at = routing.escalation_due_at(tier, now)
        for entry in included:
            if entry.token in reached:
                continue
            reached.add(entry.token)
            key = dedup_key(cert_id, expires_at, threshold, entry.token)
            work.candidates.append(_Candidate(row, days, threshold, tier, entry, key, escalation_due_at))


def _pending_event(
    candidate: _Candidate, now: datetime, texts: dict[tuple[str, int], AlertText]
) -> PendingEvent:
    cert_id, name, common_name, _status, expires_at, _policy, owner_name, owner_email, team, _team_id = (
        candidate.row
    )
    text = texts.get((cert_id, candidate.threshold))
    if text is None:
        text = texts[(cert_id, candidate.threshold)] = alert_text(
            certificate_id=cert_id,
            name=name,
            common_name=common_name,
            expires_at=expires_at,
            now=now,
            days=candidate.days,
            threshold=candidate.threshold,
            tier=candidate.tier,
            owner=f"{owner_name} <{owner_email}>",
            team=team,
        )
    route = candidate.route
    deferred = route.deferred_until is not None
    return PendingEvent(
        type=NotificationType.EXPIRATION_WARNING,
        channel=route.channel,
        message=text.message,
        subject=text.subject,
        recipient=route.recipient_for(owner_email),
        certificate_id=cert_id,
        severity_tier=candidate.tier,
        threshold_days=candidate.threshold,
        dedup_key=candidate.dedup_key,
        destination_id=route.destination_id if route.stored else None,
        destination_name=route.name if route.stored else "",
        incident_key=incident_key(cert_id, expires_at),
        escalation_due_at=None if deferred else candidate.escalation_due_at,
        status=NotificationStatus.DEFERRED if deferred else NotificationStatus.PENDING,
        deferred_until=route.deferred_until,
    )


def _create_alerts(work: _ChunkWork, now: datetime, result: ExpiryCheckResult) -> None:
    existing = _existing_dedup_keys([c.dedup_key for c in work.candidates])
    # Most urgent first: the outbox delivers the head of the batch at once and leaves the tail to its sweep.
    fresh = sorted((c for c in work.candidates if c.dedup_key not in existing), key=lambda c: c.threshold)
    texts: dict[tuple[str, int], AlertText] = {}
    created = enqueue_many(_pending_event(c, now, texts) for c in fresh)
    created_ids = {event.dedup_key: event.id for event in created}
    for candidate in work.candidates:
        notification_id = created_ids.get(candidate.dedup_key)
        if notification_id is None:
            result.deduped += 1
            work.metrics[(candidate.channel, candidate.threshold, "deduped")] += 1
            continue
        result.created[candidate.channel] += 1
        result.deferred += candidate.route.deferred_until is not None
        work.metrics[(candidate.channel, candidate.threshold, "success")] += 1
        work.audits.append(
            AuditEntry(
                "expiration_alert_sent",
                "certificate",
                candidate.row[0],
                {
                    "threshold_days": candidate.threshold,
                    "days_until_expiry": candidate.days,
                    "channel": candidate.channel,
                    "destination_id": candidate.route.destination_id,
                    "destination": candidate.route.name,
                    "severity_tier": candidate.tier,
                    "notification_id": notification_id,
                },
                now,
            )
        )


def _existing_dedup_keys(keys: list[str]) -> set[str]:
    """Keys that already have an alert; a cheap pre-check so a deduplicated run writes nothing (the unique
    constraint still decides races)."""
    if not keys:
        return set()
    if connection.vendor == "postgresql":
        table = NotificationEvent._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT dedup_key FROM {table} WHERE dedup_key = ANY(%s)", [keys])  # noqa: S608
            return {row[0] for row in cursor.fetchall()}
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(
            NotificationEvent.objects.filter(dedup_key__in=keys[start : start + 500]).values_list(
                "dedup_key", flat=True
            )
        )
    return found


def _move_status(cert_ids: list[str], old: str, new: str, now: datetime) -> set[str]:
    """Move the certificates still in `old` to `new`; returns the IDs moved (a concurrent change wins)."""
    if connection.vendor == "postgresql":
        table = ManagedCertificate._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, updated_at = %s WHERE id = ANY(%s) AND status = %s RETURNING id",  # noqa: S608
                [new, now, cert_ids, old],
            )
            return {row[0] for row in cursor.fetchall()}
    still = ManagedCertificate.objects.filter(id__in=cert_ids, status=old)
    moved = set(still.select_for_update().values_list("id", flat=True))
    if moved:
        ManagedCertificate.objects.filter(id__in=moved).update(status=new, updated_at=now)
    return moved


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
