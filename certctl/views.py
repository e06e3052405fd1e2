"""The project's own endpoints: liveness, readiness, version and auth check (unauthenticated), and /api/v1/stats."""

from __future__ import annotations

import os
import sys
from datetime import UTC

from django.conf import settings
from django.db import connection
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from certctl.api.errors import request_id_of
from certctl.api.scopes import normalized
from certctl.services import heartbeat, stats


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "reachable"
    except Exception as exc:  # any driver error means "not ready"
        return False, type(exc).__name__


def _broker_ok() -> tuple[bool, str]:
    from certctl.celery import app

    if app.conf.broker_url.startswith("filesystem://"):
        # The embedded broker is a directory: ready when the queue folder exists and is writable.
        folder = (app.conf.broker_transport_options or {}).get("data_folder_in", "")
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK):
            return True, "reachable"
        return False, "queue folder missing or not writable"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=2)
        return True, "reachable"
    except Exception as exc:  # kombu raises transport-specific errors
        return False, type(exc).__name__


def _public(view):
    view = authentication_classes([])(view)
    view = permission_classes([])(view)
    return throttle_classes([])(view)


@extend_schema(
    responses=inline_serializer("Health", {"status": serializers.CharField()}), auth=[], tags=["service"]
)
@api_view(["GET"])
@_public
def health(request):
    return Response({"status": "healthy"})


_READY_FIELDS = {
    "status": serializers.CharField(),
    "db": serializers.CharField(),
    "broker": serializers.CharField(),
    "worker_heartbeat_age_seconds": serializers.FloatField(allow_null=True),
    "beat_heartbeat_age_seconds": serializers.FloatField(allow_null=True),
}


@extend_schema(
    responses={
        200: inline_serializer("Ready", _READY_FIELDS),
        503: inline_serializer(
            "NotReady",
            {
                **_READY_FIELDS,
                "error": serializers.CharField(),
                "message": serializers.CharField(),
                "request_id": serializers.CharField(),
            },
        ),
    },
    auth=[],
    tags=["service"],
)
@api_view(["GET"])
@_public
def ready(request):
    db_ok, db_state = _database_ok()
    broker_ok, broker_state = _broker_ok()
    ages = heartbeat.ages() if db_ok else {"worker": None, "beat": None}
    body = {
        "status": "ready" if db_ok and broker_ok else "unavailable",
        "db": db_state,
        "broker": broker_state,
        "worker_heartbeat_age_seconds": ages["worker"],
        "beat_heartbeat_age_seconds": ages["beat"],
    }
    if db_ok and broker_ok:
        return Response(body)
    # Not ready: the body is also a valid error envelope, so generic API clients can read it.
    down = [name for name, ok in (("database", db_ok), ("broker", broker_ok)) if not ok]
    body |= {
        "error": "service_unavailable",
        "message": f"{' and '.join(down)} unreachable",
        "request_id": request_id_of(request),
    }
    return Response(body, status=503)


@extend_schema(
    responses=inline_serializer(
        "Version", {"version": serializers.CharField(), "python_version": serializers.CharField()}
    ),
    auth=[],
    tags=["service"],
)
@api_view(["GET"])
@_public
def version(request):
    return Response({"version": settings.VERSION, "python_version": sys.version.split()[0]})


@extend_schema(
    responses=inline_serializer(
        "AuthCheck",
        {
            "status": serializers.CharField(),
            "user": serializers.CharField(),
            "admin": serializers.BooleanField(),
            "scopes": serializers.ListField(child=serializers.CharField()),
            "teams": serializers.ListField(child=serializers.CharField(), allow_null=True),
        },
    ),
    tags=["auth"],
)
@api_view(["GET"])
def auth_check(request):
    """Who the key (or staff session) authenticates as, its scopes and teams (null: every team)."""
    user = request.user
    teams = sorted(user.teams) if user.teams is not None else None
    return Response(
        {
            "status": "authenticated",
            "user": user.name,
            "admin": user.is_admin,
            "scopes": normalized(user.scopes),
            "teams": teams,
        }
    )


@extend_schema(
    responses=inline_serializer(
        "AuthInfo", {"auth_type": serializers.CharField(), "required": serializers.BooleanField()}
    ),
    auth=[],
    tags=["auth"],
)
@api_view(["GET"])
@_public
def auth_info(request):
    """How to authenticate, in the reference product's words: always an API key (`Authorization: Bearer`)."""
    return Response({"auth_type": settings.AUTH_TYPE, "required": True})


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; the icon is a static file (resolved per request, so a
    missing manifest in development cannot break URL loading)."""
    return redirect(static("certctl/favicon.svg"), permanent=False)


# --- /api/v1/stats: certctl.services.stats computes, these views parse and serialize -------------------------


def _days_param(request) -> int:
    raw = request.query_params.get("days", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= 365:
        raise ValidationError({"days": [f"must be a whole number between 1 and 365, got {raw!r}"]})
    return int(raw)


@extend_schema(
    tags=["stats"],
    responses=inline_serializer(
        "StatsSummary",
        {
            "total_certificates": serializers.IntegerField(),
            "expiring_certificates": serializers.IntegerField(
                help_text="expiring within 30 days, not expired"
            ),
            "expiring_within_7_days": serializers.IntegerField(help_text="the same, within 7 days"),
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
            "complete_jobs": serializers.IntegerField(help_text="the reference's name of completed_jobs"),
            "completed_at": serializers.DateTimeField(help_text="the reference's name of generated_at"),
        },
    ),
)
@api_view(["GET"])
def stats_summary(request):
    body = stats.summary()
    body["generated_at"] = body["generated_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The reference product's names beside ours, for dashboards and scripts written for it.
    body |= {"complete_jobs": body["completed_jobs"], "completed_at": body["generated_at"]}
    return Response(body)


_days = OpenApiParameter("days", int, description="1..365, default 30")


@extend_schema(
    tags=["stats"],
    responses=inline_serializer(
        "StatusCount", {"status": serializers.CharField(), "count": serializers.IntegerField()}, many=True
    ),
)
@api_view(["GET"])
def stats_certificates_by_status(request):
    return Response(stats.certificates_by_status(timezone.now()))


@extend_schema(
    tags=["stats"],
    parameters=[_days],
    responses=inline_serializer(
        "DayCount", {"date": serializers.DateField(), "count": serializers.IntegerField()}, many=True
    ),
)
@api_view(["GET"])
def stats_expiration_timeline(request):
    return Response(stats.expiration_timeline(timezone.now(), _days_param(request)))


@extend_schema(
    tags=["stats"],
    parameters=[_days],
    responses=inline_serializer(
        "JobTrend",
        {
            "date": serializers.DateField(),
            "completed_count": serializers.IntegerField(),
            "failed_count": serializers.IntegerField(),
            "success_rate": serializers.FloatField(help_text="0-100"),
        },
        many=True,
    ),
)
@api_view(["GET"])
def stats_job_trends(request):
    return Response(stats.job_trends(timezone.now(), _days_param(request)))


@extend_schema(
    tags=["stats"],
    parameters=[_days],
    responses=inline_serializer(
        "IssuanceRate",
        {"date": serializers.DateField(), "issued_count": serializers.IntegerField()},
        many=True,
    ),
)
@api_view(["GET"])
def stats_issuance_rate(request):
    return Response(stats.issuance_rate(timezone.now(), _days_param(request)))


_status_counts = serializers.DictField(child=serializers.IntegerField(), help_text="status -> count")


@extend_schema(
    tags=["stats"],
    responses=inline_serializer(
        "NotificationStats",
        {
            "by_status": _status_counts,
            "by_destination": inline_serializer(
                "DestinationNotificationCounts",
                {
                    "destination_id": serializers.CharField(
                        allow_null=True, help_text="null: a destination deleted since"
                    ),
                    "destination_name": serializers.CharField(),
                    "kind": serializers.CharField(),
                    "source": serializers.CharField(help_text="admin, environment or deleted"),
                    "counts": _status_counts,
                    "total": serializers.IntegerField(),
                },
                many=True,
            ),
            "generated_at": serializers.DateTimeField(),
        },
    ),
)
@api_view(["GET"])
def stats_notifications(request):
    """Notifications per destination and status (pending, sent, failed, dead, deferred, read)."""
    body = stats.notifications_by_destination()
    body["generated_at"] = body["generated_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Response(body)
