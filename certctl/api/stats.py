"""`GET /api/v1/stats/summary`: inventory, agent, job and notification counts from SQL aggregates (4 queries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from certificates.enums import OPEN_JOB_STATUSES, CertificateStatus, JobStatus
from certificates.models import Agent, Job, ManagedCertificate
from notifications.enums import NotificationStatus
from notifications.models import NotificationEvent

EXPIRING_WITHIN = timedelta(days=30)


def certificate_counts(now: datetime) -> dict:
    """Buckets as in the reference, exclusive in this order: revoked, expired, expiring. Archived rows are out."""
    S = CertificateStatus
    revoked = Q(status=S.REVOKED)
    expired = ~revoked & (Q(status=S.EXPIRED) | Q(expires_at__lte=now))
    expiring = ~revoked & ~Q(status=S.EXPIRED) & Q(expires_at__gt=now, expires_at__lte=now + EXPIRING_WITHIN)
    live = ~Q(status=S.ARCHIVED)
    totals = ManagedCertificate.objects.aggregate(
        total=Count("pk", filter=live),
        expiring=Count("pk", filter=live & expiring),
        expired=Count("pk", filter=live & expired),
        revoked=Count("pk", filter=revoked),
        **{f"status_{value}": Count("pk", filter=Q(status=value)) for value in S.values},
    )
    return {
        "total_certificates": totals["total"],
        "expiring_certificates": totals["expiring"],
        "expired_certificates": totals["expired"],
        "revoked_certificates": totals["revoked"],
        "certificates_by_status": {value: totals[f"status_{value}"] for value in S.values},
    }


def agent_counts(now: datetime) -> dict:
    recent = Q(last_heartbeat_at__gte=now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER))
    counts = Agent.objects.filter(retired_at__isnull=True).aggregate(
        total=Count("pk"), active=Count("pk", filter=recent)
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


def summary(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        **certificate_counts(now),
        **agent_counts(now),
        **job_counts(),
        **notification_counts(),
        "generated_at": now,
    }


@extend_schema(
    tags=["stats"],
    responses=inline_serializer(
        "StatsSummary",
        {
            "total_certificates": serializers.IntegerField(),
            "expiring_certificates": serializers.IntegerField(
                help_text="expiring within 30 days, not expired"
            ),
            "expired_certificates": serializers.IntegerField(),
            "revoked_certificates": serializers.IntegerField(),
            "certificates_by_status": serializers.DictField(child=serializers.IntegerField()),
            "active_agents": serializers.IntegerField(),
            "offline_agents": serializers.IntegerField(),
            "total_agents": serializers.IntegerField(),
            "pending_jobs": serializers.IntegerField(),
            "failed_jobs": serializers.IntegerField(),
            "completed_jobs": serializers.IntegerField(),
            "notifications_dead": serializers.IntegerField(),
            "notifications_by_status": serializers.DictField(child=serializers.IntegerField()),
            "generated_at": serializers.DateTimeField(),
        },
    ),
)
@api_view(["GET"])
def stats_summary(request):
    body = summary()
    body["generated_at"] = body["generated_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Response(body)
