"""Daily digests per team: one message a day listing the team's certificates that expire within its horizon.

A team with `digest_enabled` gets its digest once its local time (`Team.timezone`) has passed `digest_hour`, to
each enabled destination of the team that takes non-critical alerts (the ones the digest replaces): paging
destinations (PagerDuty, OpsGenie) and destinations limited to the critical tier get none. The dedup key
`digest:<team id>:<local date>:<destination token>` makes it once per local day, however often the sweep runs
and however many workers run it. A day with nothing to list sends nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.enums import DestinationKind, NotificationType, SeverityTier
from notifications.models import Destination, NotificationEvent
from notifications.services import fanout

logger = logging.getLogger(__name__)

MAX_LINES = 200
# Read through the Team's reverse relation as plain values: notifications may not import certificates.enums.
NOT_LISTED_STATUSES = ("Archived", "Revoked")
PAGING_KINDS = (DestinationKind.PAGERDUTY, DestinationKind.OPSGENIE)
DIGEST_TIERS = frozenset({SeverityTier.INFORMATIONAL, SeverityTier.WARNING})


def send_due_digests(now: datetime | None = None) -> dict[str, int]:
    """Write today's digest for every digest team whose local digest hour has passed and who has not had it.

    Returns counts: `teams` (digests built), `sent` (rows written), `empty` (teams with nothing to list),
    `no_destinations` (digest teams with no destination that takes it).
    """
    now = now or timezone.now()
    result: Counter = Counter()
    Team = apps.get_model("certificates", "Team")
    for team in Team.objects.filter(digest_enabled=True).order_by("id"):
        local = now.astimezone(_zone(team.timezone))
        if local.hour < team.digest_hour:
            continue
        destinations = [
            destination
            for destination in Destination.objects.filter(team_id=team.pk, enabled=True).order_by("name")
            if _takes_digest(destination)
        ]
        if not destinations:
            result["no_destinations"] += 1
            continue
        day = local.date().isoformat()
        keys = {d.pk: f"digest:{team.pk}:{day}:{fanout.token_of(d)}" for d in destinations}
        if _already_sent(keys.values()):
            continue
        listing = _listing(team, now)
        if listing is None:
            result["empty"] += 1
            continue
        subject, message = listing
        rows = [
            fanout.row_for(
                destination,
                type=NotificationType.EXPIRY_DIGEST,
                recipient=fanout.recipient_for(destination),
                subject=subject,
                message=message,
                severity_tier=SeverityTier.INFORMATIONAL,
                dedup_key=keys[destination.pk],
            )
            for destination in destinations
        ]
        with transaction.atomic():
            created = fanout.write_once(rows)
        result["teams"] += 1
        result["sent"] += len(created)
    summary = {name: result[name] for name in ("teams", "sent", "empty", "no_destinations")}
    if summary["sent"]:
        logger.info("digest sweep finished", extra={"summary": summary})
    return summary


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # validated on save; an old or hand-edited row must not stop every digest


def _takes_digest(destination: Destination) -> bool:
    if destination.kind in PAGING_KINDS:
        return False
    if destination.kind == DestinationKind.EMAIL and not fanout.has_own_recipients(destination):
        return False  # a digest has no single owner to write to
    tiers = destination.tiers if isinstance(destination.tiers, list) else []
    if tiers and not DIGEST_TIERS.intersection(tiers):
        return False
    return not fanout.unusable_reason(destination)


def _already_sent(keys) -> bool:
    return NotificationEvent.objects.filter(dedup_key__in=list(keys)).count() == len(keys)


def _listing(team, now: datetime) -> tuple[str, str] | None:
    """(subject, message) of the team's digest, or None when nothing expires within its horizon."""
    horizon = now + timedelta(days=team.digest_horizon_days)
    certificates = (
        team.certificates.exclude(status__in=NOT_LISTED_STATUSES)
        .filter(expires_at__isnull=False, expires_at__lt=horizon)
        .order_by("expires_at", "id")
    )
    total = certificates.count()
    if not total:
        return None
    rows = list(certificates.values_list("name", "common_name", "expires_at", "owner__email")[:MAX_LINES])
    expired = certificates.filter(expires_at__lte=now).count()
    name = _one_line(team.name)
    lines = [_line(row, now) for row in rows]
    if total > len(rows):
        lines.append(f"... and {total - len(rows)} more")
    count = "1 certificate" if total == 1 else f"{total} certificates"
    summary = f"{count} expire within {_days(team.digest_horizon_days)}"
    if expired:
        summary += f", {expired} already expired"
    subject = f"[certctl] Daily digest for team {name}: {summary}"
    message = "\n".join(
        [
            f"Daily digest for team {name}: {summary}.",
            "",
            *lines,
            "",
            f"Admin: {settings.PUBLIC_URL}/admin/certificates/managedcertificate/?team__id__exact={team.pk}",
        ]
    )
    return subject, message


def _line(row: tuple, now: datetime) -> str:
    name, common_name, expires_at, owner_email = row
    expiry = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if expires_at <= now:
        ago = int((now - expires_at) / timedelta(days=1))
        left = "EXPIRED" if ago < 1 else f"EXPIRED {_days(ago)} ago"
    else:
        left = f"{_days(int((expires_at - now) / timedelta(days=1)))} left"
    return f"- {_one_line(name)} ({_one_line(common_name)}): {left}, expires {expiry}, owner {owner_email}"


def _one_line(value: str) -> str:
    """A user-controlled value on one line, so a name cannot forge extra lines in the listing."""
    return " ".join(str(value).split())


def _days(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"
