"""Unauthenticated service endpoints: liveness, readiness and version."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.response import Response

from certctl.api.errors import request_id_of
from certctl.services import heartbeat


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
        },
    ),
    tags=["auth"],
)
@api_view(["GET"])
def auth_check(request):
    """Who the key (or staff session) authenticates as, and whether it is an admin."""
    return Response({"status": "authenticated", "user": request.user.name, "admin": request.user.is_admin})
