"""The operator console's home page: the stats summary plus what an operator checks first, and three charts.

The counts come from certctl.services.stats.summary, the function behind `GET /api/v1/stats/summary`, so the
console and the API cannot disagree. Every figure is one SQL aggregate (or a range read through an index);
nothing loops over certificates.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from certctl.kernel.ids import id_floor
from certctl.services import heartbeat, stats
from certificates.compliance.models import Severity, Violation
from certificates.discovery.models import DiscoveredCertificate, DiscoveryStatus
from certificates.enums import ApprovalState, IssuerType
from certificates.expiry.models import ExpiryCheckRun
from certificates.inventory.models import CertificateVersion, Issuer, ManagedCertificate
from certificates.issuance.models import ApprovalRequest
from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent

EXPIRY_WEEKS = 13  # the next 90 days, a week a bar
ISSUANCE_DAYS = 30
NOTIFICATION_DAYS = 14
NOTIFICATION_OUTCOMES = (NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.DEAD)


@dataclass
class CRLState:
    issuer_id: str
    issuer_name: str
    generated_at: datetime | None
    next_update: datetime | None
    age_seconds: float | None
    overdue: bool  # no CRL yet, or its nextUpdate has passed


@dataclass
class Heartbeat:
    kind: str
    age_seconds: float | None
    stale: bool


@dataclass
class Series:
    """Bars over `labels`, one stack segment per key of `stacks` (values aligned with labels)."""

    labels: list[str]
    stacks: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Dashboard:
    summary: dict
    approvals_waiting: int
    crls: list[CRLState]
    last_expiry_check: ExpiryCheckRun | None
    heartbeats: list[Heartbeat]
    expiries_by_week: Series
    issuances_per_day: Series
    notifications_per_day: Series
    open_violations: dict[str, int] = field(default_factory=dict)  # by severity, Critical first
    unmanaged_discovered: int = 0


def dashboard(now: datetime | None = None) -> Dashboard:
    """Everything the console's home page shows, as of `now`."""
    now = now or timezone.now()
    return Dashboard(
        summary=stats.summary(now),
        approvals_waiting=ApprovalRequest.objects.filter(state=ApprovalState.PENDING).count(),
        crls=crl_states(now),
        last_expiry_check=ExpiryCheckRun.objects.order_by("-finished_at").first(),
        heartbeats=heartbeats(now),
        expiries_by_week=expiries_by_week(now),
        issuances_per_day=issuances_per_day(now),
        notifications_per_day=notifications_per_day(now),
        open_violations=open_violations(),
        unmanaged_discovered=DiscoveredCertificate.objects.filter(status=DiscoveryStatus.UNMANAGED).count(),
    )


def open_violations() -> dict[str, int]:
    """Open compliance violations per severity (one aggregate over the open-violations index)."""
    rows = (
        Violation.objects.filter(resolved_at__isnull=True)
        .values("severity")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = {row["severity"]: row["count"] for row in rows}
    return {severity: counts.get(severity, 0) for severity in reversed(Severity.values)}


def crl_states(now: datetime) -> list[CRLState]:
    """Per enabled local issuer: when its CRL was generated and whether its nextUpdate has passed."""
    rows = []
    issuers = Issuer.objects.filter(type=IssuerType.LOCAL, enabled=True).select_related("crl_cache")
    for issuer in issuers.order_by("name"):
        cache = getattr(issuer, "crl_cache", None)
        generated = cache.generated_at if cache else None
        next_update = cache.next_update if cache else None
        rows.append(
            CRLState(
                issuer_id=issuer.pk,
                issuer_name=issuer.name,
                generated_at=generated,
                next_update=next_update,
                age_seconds=(now - generated).total_seconds() if generated else None,
                overdue=next_update is None or next_update <= now,
            )
        )
    return rows


def heartbeats(now: datetime) -> list[Heartbeat]:
    limit = heartbeat.stale_after()
    return [
        Heartbeat(kind=kind, age_seconds=age, stale=age is None or age > limit)
        for kind, age in heartbeat.ages(now).items()
    ]


def _utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def expiries_by_week(now: datetime) -> Series:
    """Live, unrevoked certificates expiring in each of the next 13 weeks (week 1 starts now), by team."""
    start, end = now, now + timedelta(weeks=EXPIRY_WEEKS)
    # Grouped by day in SQL (at most 91 days x teams rows come back), by week here.
    daily = (
        ManagedCertificate.objects.live()
        .filter(expires_at__gt=start, expires_at__lte=end)
        .annotate(day=TruncDate("expires_at", tzinfo=UTC))
        .values("team__name", "day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    first_day = _utc_day(start)
    series = Series(labels=[(first_day + timedelta(weeks=w)).strftime("%d %b") for w in range(EXPIRY_WEEKS)])
    per_team: dict[str, list[int]] = defaultdict(lambda: [0] * EXPIRY_WEEKS)
    for row in daily:
        week = min((row["day"] - first_day).days // 7, EXPIRY_WEEKS - 1)
        per_team[row["team__name"]][week] += row["count"]
    series.stacks = dict(sorted(per_team.items()))
    return series


def _last_days(now: datetime, days: int) -> list[date]:
    """The last `days` UTC days, today included, oldest first."""
    today = _utc_day(now)
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _daily(queryset, days: list[date], *, stacks: dict[str, str | None], by: str | None = None) -> Series:
    """Rows of `queryset` per UTC day of `created_at` over `days`: one stack per name, counting the rows whose
    `by` field has the stack's value (every row when `by` is None)."""
    grouping = ("day", by) if by else ("day",)
    rows = (
        queryset.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values(*grouping)
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = {(row["day"], row[by] if by else None): row["count"] for row in rows}
    return Series(
        labels=[day.strftime("%d %b") for day in days],
        stacks={name: [counts.get((day, value), 0) for day in days] for name, value in stacks.items()},
    )


def issuances_per_day(now: datetime) -> Series:
    """Certificate versions issued per UTC day over the last 30 days, oldest first."""
    days = _last_days(now, ISSUANCE_DAYS)
    start = _midnight(days[0])
    # Versions have no index on created_at (each one costs issuance a write); their time-ordered ids do.
    recent = CertificateVersion.objects.filter(pk__gte=id_floor("certver", start), created_at__gte=start)
    return _daily(recent, days, stacks={"issued": None})


def notifications_per_day(now: datetime) -> Series:
    """Notifications created per UTC day over the last 14 days, by where they stand now: sent, failed, dead."""
    days = _last_days(now, NOTIFICATION_DAYS)
    recent = NotificationEvent.objects.filter(
        created_at__gte=_midnight(days[0]), status__in=NOTIFICATION_OUTCOMES
    )
    return _daily(recent, days, stacks={status: status for status in NOTIFICATION_OUTCOMES}, by="status")
