"""Dashboard statistics (served under /api/v1/stats by certctl.views): each one or a few SQL aggregates, never a loop
over rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from certificates.enums import OPEN_JOB_STATUSES, CertificateStatus, JobStatus
from certificates.inventory import counts as inventory_counts
from certificates.inventory.models import Agent, ManagedCertificate
from certificates.inventory.querysets import EXPIRING_SOON_DAYS, agent_online
from certificates.issuance.models import Job
from notifications.enums import CHANNEL_KIND, NotificationStatus
from notifications.models import Destination, NotificationEvent
from notifications.services.destinations import row_destination_id

EXPIRING_WITHIN = timedelta(days=EXPIRING_SOON_DAYS)


def certificate_counts(now: datetime) -> dict:
    """Buckets as in the reference, exclusive in this order: revoked, expired, expiring. Archived rows are out.

    Read from the counters the database keeps (certificates.inventory.counts), exact and without a row count."""
    counts = inventory_counts.summary(now, (EXPIRING_SOON_DAYS, 7))
    return {
        "total_certificates": counts["live"],
        "expiring_certificates": counts["expiring"][EXPIRING_SOON_DAYS],
        "expiring_within_7_days": counts["expiring"][7],
        "expired_certificates": counts["expired"],
        "revoked_certificates": counts["revoked"],
        "certificates_by_status": {value: counts["by_status"][value] for value in CertificateStatus.values},
    }


def agent_counts(now: datetime) -> dict:
    counts = Agent.objects.filter(retired_at__isnull=True).aggregate(
        total=Count("pk"), active=Count("pk", filter=agent_online(now))
    )
    return {
        "active_agents": counts["active"],
        "offline_agents": counts["total"] - counts["active"],
        "total_agents": counts["total"],
    }


def job_counts() -> dict:
    counts = Job.objects.aggregate(
        pending=Count("pk", filter=Q(status__in=OPEN_JOB_STATUSES)),
        failed=Count("pk", filter=Q(status=JobStatus.FAILED)),
        completed=Count("pk", filter=Q(status=JobStatus.COMPLETED)),
    )
    return {
        "pending_jobs": counts["pending"],
        "failed_jobs": counts["failed"],
        "completed_jobs": counts["completed"],
    }


def notification_counts() -> dict:
    counts = NotificationEvent.objects.aggregate(
        **{value: Count("pk", filter=Q(status=value)) for value in NotificationStatus.values}
    )
    return {"notifications_dead": counts[NotificationStatus.DEAD], "notifications_by_status": counts}


def notifications_by_destination(now: datetime | None = None) -> dict:
    """Notification counts per destination and status: every destination (zeros too), then deleted ones by name.

    A row that named only a channel counts for that channel's built-in destination, as it is delivered there.
    """
    empty = dict.fromkeys(NotificationStatus.values, 0)
    entries: dict[tuple[str | None, str], dict] = {}
    for destination in Destination.objects.order_by("name"):
        entries[(destination.pk, "")] = {
            "destination_id": destination.pk,
            "destination_name": destination.name,
            "kind": destination.kind,
            "source": destination.source,
            "counts": dict(empty),
        }
    rows = (
        NotificationEvent.objects.values_list("destination_id", "destination_name", "channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    totals = dict(empty)
    for dest_id, dest_name, channel, status, n in rows:
        owner = row_destination_id(dest_id, dest_name, channel)
        key = (owner, "") if owner else (None, dest_name)
        entry = entries.setdefault(
            key,
            {
                "destination_id": owner,
                "destination_name": dest_name if owner is None else f"{channel} (environment)",
                "kind": CHANNEL_KIND.get(channel, ""),
                "source": "deleted" if owner is None else "environment",
                "counts": dict(empty),
            },
        )
        entry["counts"][status] = entry["counts"].get(status, 0) + n
        totals[status] = totals.get(status, 0) + n
    destinations = list(entries.values())
    for entry in destinations:
        entry["total"] = sum(entry["counts"].values())
    return {"by_status": totals, "by_destination": destinations, "generated_at": now or timezone.now()}


def summary(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        **certificate_counts(now),
        **agent_counts(now),
        **job_counts(),
        **notification_counts(),
        "generated_at": now,
    }


def certificates_by_status(now: datetime) -> list[dict]:
    """Counts per status, with Active re-bucketed by expiry (past: Expired, within 30 days: Expiring)."""
    S = CertificateStatus
    counts = inventory_counts.by_status()
    active = [S.ACTIVE]
    expired = inventory_counts.expiring_between(None, now, before_inclusive=True, status_in=active)
    expiring = inventory_counts.expiring_between(
        now, now + EXPIRING_WITHIN, before_inclusive=True, status_in=active
    )
    counts[S.ACTIVE] -= expired + expiring
    counts[S.EXPIRED] += expired
    counts[S.EXPIRING] += expiring
    return [{"status": status, "count": n} for status, n in sorted(counts.items()) if n]


def _daily(queryset, field: str, start: date, days: int, **counts) -> dict[date, dict]:
    rows = (
        queryset.annotate(day=TruncDate(field, tzinfo=UTC)).values("day").annotate(**counts).order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    return {start + timedelta(days=i): by_day.get(start + timedelta(days=i), {}) for i in range(days)}


def expiration_timeline(now: datetime, days: int) -> list[dict]:
    """Live certificates expiring on each of the next `days` days, today first."""
    today = now.astimezone(UTC).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    queryset = ManagedCertificate.objects.live().filter(
        expires_at__gte=start, expires_at__lt=start + timedelta(days=days)
    )
    daily = _daily(queryset, "expires_at", today, days, count=Count("pk"))
    return [{"date": day.isoformat(), "count": row.get("count", 0)} for day, row in daily.items()]


def job_trends(now: datetime, days: int) -> list[dict]:
    """Completed and failed jobs per day over the last `days` days (by completion time), oldest first."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    queryset = Job.objects.filter(completed_at__gte=start, status__in=[JobStatus.COMPLETED, JobStatus.FAILED])
    daily = _daily(
        queryset,
        "completed_at",
        first,
        days,
        completed=Count("pk", filter=Q(status=JobStatus.COMPLETED)),
        failed=Count("pk", filter=Q(status=JobStatus.FAILED)),
    )
    result = []
    for day, row in daily.items():
        completed, failed = row.get("completed", 0), row.get("failed", 0)
        rate = round(100 * completed / (completed + failed), 1) if completed + failed else 0.0
        result.append(
            {
                "date": day.isoformat(),
                "completed_count": completed,
                "failed_count": failed,
                "success_rate": rate,
            }
        )
    return result


def issuance_rate(now: datetime, days: int) -> list[dict]:
    """Certificates added to the inventory per day over the last `days` days, oldest first."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    queryset = ManagedCertificate.objects.filter(created_at__gte=start)
    daily = _daily(queryset, "created_at", first, days, issued=Count("pk"))
    return [{"date": day.isoformat(), "issued_count": row.get("issued", 0)} for day, row in daily.items()]
