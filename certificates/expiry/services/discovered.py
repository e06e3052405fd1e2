"""Expiry alerts for discovered certificates that someone owns but nobody manages yet.

A discovered certificate that is Unmanaged and has an owner or a team (set by PATCH, without claiming) is alerted
like a managed one, through the same routing (services/routes.py), with a fixed alert policy since it has no
renewal policy of its own: the default thresholds (30, 14, 7, 0 days), the default severity map, no policy
channels; the owner's email for every tier (when it has an owner), then the team's destinations, then the
installation's default destinations. Each destination gets only the most urgent threshold that fired; once
expired, one critical EXPIRED alert. Dedup key per (discovered certificate, not_after, threshold, destination).

Managed (claimed) and Dismissed discovered certificates get none: a claimed one is alerted as its managed
certificate. One run costs one SELECT when no discovered certificate is in its window, and at most one INSERT of
alerts, one of audit rows and one metrics UPSERT more when there are alerts to write: no query per certificate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from certctl.kernel import counters
from certificates.discovery.models import DiscoveredCertificate, DiscoveryStatus
from certificates.expiry.services.audit_rows import AuditEntry, write_audit_batch
from certificates.expiry.services.routes import EXPIRED, Resolver
from certificates.expiry.services.routing import alert_text, days_left, dedup_key, policy_routing
from notifications.enums import (
    DEFAULT_ALERT_THRESHOLDS,
    DEFAULT_SEVERITY_MAP,
    NotificationStatus,
    NotificationType,
    SeverityTier,
)
from notifications.services.incidents import incident_key
from notifications.services.outbox import PendingEvent, enqueue_many

# No renewal policy: the defaults, and no policy channels (owner, team, defaults route instead).
NO_CHANNELS = {tier: [] for tier in SeverityTier.values}
WITH_OWNER = policy_routing(
    DEFAULT_ALERT_THRESHOLDS, DEFAULT_SEVERITY_MAP, NO_CHANNELS, owner_tiers=list(SeverityTier.values)
)
WITHOUT_OWNER = policy_routing(DEFAULT_ALERT_THRESHOLDS, DEFAULT_SEVERITY_MAP, NO_CHANNELS)
# Pseudo policy ids for the resolver's per-run cache of tier routes.
ROUTINGS = {"discovered:owner": WITH_OWNER, "discovered:no-owner": WITHOUT_OWNER}
FIELDS = (
    "id",
    "common_name",
    "subject",
    "fingerprint_sha256",
    "not_after",
    "owner_id",
    "owner__name",
    "owner__email",
    "team_id",
    "team__name",
)


def admin_url(certificate_id: str) -> str:
    return f"{settings.PUBLIC_URL}/admin/certificates/discoveredcertificate/{certificate_id}/change/"


def alertable(now) -> Q:
    """Unmanaged, owned by someone, and expired or within the largest default threshold."""
    return (
        Q(status=DiscoveryStatus.UNMANAGED)
        & (Q(owner__isnull=False) | Q(team__isnull=False))
        & Q(not_after__lt=now + timedelta(days=WITH_OWNER.max_threshold + 1))
    )


def check_discovered(resolver: Resolver, record: Callable[[str, int, str], None], metric: str) -> int:
    """Write the due alerts of owned, unmanaged discovered certificates; returns how many were scanned.

    `record(kind, count, channel)` tells the caller's result what happened ("created", "deduped", "deferred").
    """
    now = resolver.now
    rows = list(
        DiscoveredCertificate.objects.filter(alertable(now)).order_by("not_after", "id").values_list(*FIELDS)
    )
    if not rows:
        return 0
    candidates: list[tuple[PendingEvent, tuple, int, int, str]] = []
    audits: list[AuditEntry] = []
    for row in rows:
        (
            cert_id,
            common_name,
            subject,
            fingerprint,
            not_after,
            owner_id,
            owner_name,
            owner_email,
            team_id,
            team,
        ) = row
        policy_id = "discovered:owner" if owner_id else "discovered:no-owner"
        routing = ROUTINGS[policy_id]
        days = days_left(not_after, now)
        expired = not_after <= now
        fired = [EXPIRED] if expired else sorted(t for t in routing.thresholds if days <= t)
        reached: set[str] = set()
        name = common_name or subject or fingerprint[:16]
        for threshold in fired:
            tier = SeverityTier.CRITICAL if threshold == EXPIRED else routing.tier_for(threshold)
            route = resolver.tier_route(policy_id, routing, tier, team_id)
            included = resolver.held(route.included, tier, team_id)
            base = {"threshold_days": threshold, "days_until_expiry": days, "severity_tier": tier}
            if not included:
                if not route.held_for_digest:
                    record("skipped", 1, "")
                    audits.append(
                        AuditEntry(
                            "expiration_alert_skipped_no_channels",
                            "discovered_certificate",
                            cert_id,
                            base,
                            now,
                        )
                    )
                continue
            text = alert_text(
                certificate_id=cert_id,
                name=name,
                common_name=common_name,
                expires_at=not_after,
                now=now,
                days=days,
                threshold=threshold,
                tier=tier,
                owner=f"{owner_name} <{owner_email}>" if owner_id else "-",
                team=team or "-",
                admin_url=admin_url(cert_id),
            )
            for entry in included:
                if entry.token in reached:
                    continue
                reached.add(entry.token)
                deferred = entry.deferred_until is not None
                event = PendingEvent(
                    type=NotificationType.EXPIRATION_WARNING,
                    channel=entry.channel,
                    message=text.message,
                    subject=text.subject,
                    recipient=entry.recipient_for(owner_email or ""),
                    discovered_certificate_id=cert_id,
                    severity_tier=tier,
                    threshold_days=threshold,
                    dedup_key=dedup_key(cert_id, not_after, threshold, entry.token),
                    destination_id=entry.destination_id if entry.stored else None,
                    destination_name=entry.name if entry.stored else "",
                    incident_key=incident_key(cert_id, not_after),
                    status=NotificationStatus.DEFERRED if deferred else NotificationStatus.PENDING,
                    deferred_until=entry.deferred_until,
                )
                candidates.append((event, row, days, threshold, tier))
    _write(candidates, audits, record, metric, now)
    return len(rows)


@transaction.atomic
def _write(candidates, audits: list[AuditEntry], record, metric: str, now) -> None:
    # Most urgent first: the outbox delivers the head of the batch at once (as for managed certificates).
    candidates.sort(key=lambda c: c[3])
    created = {event.id for event in enqueue_many(event for event, *_ in candidates)}
    metrics: Counter = Counter()
    for event, row, days, threshold, tier in candidates:
        if event.id not in created:
            record("deduped", 1, event.channel)
            metrics[(event.channel, threshold, "deduped")] += 1
            continue
        record("created", 1, event.channel)
        if event.deferred_until is not None:
            record("deferred", 1, event.channel)
        metrics[(event.channel, threshold, "success")] += 1
        audits.append(
            AuditEntry(
                "expiration_alert_sent",
                "discovered_certificate",
                row[0],
                {
                    "threshold_days": threshold,
                    "days_until_expiry": days,
                    "channel": event.channel,
                    "destination_id": event.destination_id,
                    "destination": event.destination_name,
                    "severity_tier": tier,
                    "notification_id": event.id,
                },
                now,
            )
        )
    write_audit_batch(audits)
    counters.increment_many(
        metric,
        [({"channel": ch, "threshold": str(t), "result": res}, n) for (ch, t, res), n in metrics.items()],
    )
