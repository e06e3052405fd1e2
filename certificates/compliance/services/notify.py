"""A newly opened Critical violation notifies: a PolicyViolation row per destination in the notifications
outbox, routed like alerts (the certificate team's destinations accepting the critical tier, else the
installation-wide default destinations, else the owner's email through the built-in email destination).

Once per violation and destination: the rows carry `dedup_key = violation:<id>:<destination>` (unique), only the
worker that inserted a violation notifies for it, and `notified_at` records that it was done.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q

from certificates.compliance.models import Severity, Violation
from notifications.enums import Channel, NotificationType, SeverityTier
from notifications.models import Destination, NotificationEvent
from notifications.services import fanout
from notifications.services.outbox import IMMEDIATE_DELIVERY_LIMIT, schedule_delivery


def dedup_key(violation_id: str, destination: Destination) -> str:
    return f"violation:{violation_id}:{fanout.token_of(destination)}"


class Routes:
    """Team and default destinations accepting critical alerts, read once per batch."""

    def __init__(self, team_ids: set[str]) -> None:
        rows = Destination.objects.filter(Q(team_id__in=team_ids) | Q(team__isnull=True, is_default=True))
        self.by_team: dict[str, list[Destination]] = {}
        self.defaults: list[Destination] = []
        for destination in rows.order_by("name"):
            if fanout.unusable_reason(destination) or not _accepts_critical(destination):
                continue
            if destination.team_id:
                self.by_team.setdefault(destination.team_id, []).append(destination)
            else:
                self.defaults.append(destination)
        self._email: list[Destination] | None = None

    def for_team(self, team_id: str | None, owner_email: str) -> list[Destination]:
        found = self.by_team.get(team_id or "") or self.defaults
        if found or not owner_email:
            return found
        if self._email is None:
            self._email = fanout.resolve([Channel.EMAIL]).destinations
        return self._email


def _accepts_critical(destination: Destination) -> bool:
    tiers = destination.tiers if isinstance(destination.tiers, list) else []
    return not tiers or SeverityTier.CRITICAL in tiers


def violations_opened(opened: Sequence[tuple[Violation, object]], now) -> int:
    """Write the notifications of newly opened violations (Critical ones only); returns rows written. Runs in
    the caller's transaction."""
    critical = [(v, one) for v, one in opened if v.severity == Severity.CRITICAL]
    if not critical:
        return 0
    routes = Routes({v.team_id for v, _ in critical if v.team_id})
    rows, notified = [], []
    for violation, one in critical:
        what = one.label or violation.certificate_id or violation.discovered_certificate_id
        kind = "certificate" if violation.certificate_id else "discovered certificate"
        destinations = routes.for_team(violation.team_id, one.owner_email)
        if destinations:
            notified.append(violation.pk)
        for destination in destinations:
            rows.append(
                fanout.row_for(
                    destination,
                    type=NotificationType.POLICY_VIOLATION,
                    recipient=fanout.recipient_for(destination, one.owner_email),
                    subject=f"Critical policy violation: {violation.rule.name} on {what}",
                    message=(
                        f"The {kind} {what} breaks the compliance rule {violation.rule.name} (Critical): "
                        f"{violation.message}. Violation {violation.pk}."
                    ),
                    severity_tier=SeverityTier.CRITICAL,
                    certificate_id=violation.certificate_id,
                    discovered_certificate_id=violation.discovered_certificate_id,
                    dedup_key=dedup_key(violation.pk, destination),
                )
            )
    written: list[str] = []
    if rows:
        NotificationEvent.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        ids = [row.pk for row in rows]
        written = list(NotificationEvent.objects.filter(pk__in=ids).values_list("pk", flat=True))
        schedule_delivery(written[:IMMEDIATE_DELIVERY_LIMIT])  # the pending sweep delivers the rest
        Violation.objects.filter(pk__in=notified, notified_at__isnull=True).update(notified_at=now)
    return len(written)
