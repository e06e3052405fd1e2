"""`/metrics`: django-prometheus's process registry plus series computed from the database at scrape time.

Values live in the database (certctl.kernel.counters, row counts), so every gunicorn and Celery process reports
into one number. An app adds series by defining `collect() -> Iterable[Metric]` in `<app>/metrics.py` (the
certificates app's yields those of its packages, e.g. certificates/expiry/metrics.py), or by calling
`register(collector)`. certctl.kernel.metrics builds counter and histogram families from the counters. The
reference product's inventory series and the heartbeat ages are the root's own (`root_series`): they come from
its stats and heartbeat services, which no app may import. docs/metrics.md lists every series.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from importlib import import_module

import prometheus_client
from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, inline_serializer
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response

from certctl.api.authentication import APIKeyAuthentication
from certctl.api.errors import json_error
from certctl.api.scopes import READ
from certctl.api.throttling import TooManyFailedAuthentications
from certctl.services import heartbeat, stats

logger = logging.getLogger(__name__)

CollectorFn = Callable[[], Iterable[Metric]]
_registered: list[CollectorFn] = []


def register(collector: CollectorFn) -> CollectorFn:
    """Add a collector callable (usable as a decorator); it runs at every scrape."""
    if collector not in _registered:
        _registered.append(collector)
    return collector


@cache
def _discovered() -> tuple[CollectorFn, ...]:
    """`collect` of every app's `metrics` module, in app order."""
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.metrics")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.metrics":
                raise
            continue
        if module.__name__ != __name__ and callable(getattr(module, "collect", None)):
            found.append(module.collect)
    return tuple(found)


def collectors() -> list[CollectorFn]:
    return [root_series, *_discovered(), *_registered]


# --- The root's series ----------------------------------------------------------------------------------------

_IMPORTED_AT = time.time()


def _process_started_at() -> float:
    """When this process started: the kernel's record (Linux), else when this module was imported."""
    for family in prometheus_client.PROCESS_COLLECTOR.collect():
        if family.name == "process_start_time_seconds":
            return family.samples[0].value
    return _IMPORTED_AT


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def reference_figures(now) -> dict[str, float]:
    """The reference product's inventory figures, counted as `GET /api/v1/stats/summary` counts them (one aggregate
    each for certificates, agents and jobs): the series below and `GET /api/v1/metrics` report these."""
    certificates = stats.certificate_counts(now)
    agents = stats.agent_counts(now)
    jobs = stats.job_counts()
    total = certificates["total_certificates"]
    expiring = certificates["expiring_certificates"]
    expired = certificates["expired_certificates"]
    revoked = certificates["revoked_certificates"]
    return {
        "certificate_total": total,
        "certificate_active": total - expiring - expired - revoked,
        "certificate_expiring_soon": expiring,
        "certificate_expired": expired,
        "certificate_revoked": revoked,
        "certificates_by_status": certificates["certificates_by_status"],
        "agent_total": agents["total_agents"],
        "agent_online": agents["active_agents"],
        "job_pending": jobs["pending_jobs"],
        "job_completed_total": jobs["completed_jobs"],
        "job_failed_total": jobs["failed_jobs"],
    }


def root_series() -> Iterable[Metric]:
    """The reference product's inventory series (`reference_figures`), this process's uptime and the background
    processes' heartbeat ages (one read of their rows)."""
    now = timezone.now()
    figures = reference_figures(now)
    total = figures["certificate_total"]
    expiring = figures["certificate_expiring_soon"]
    expired = figures["certificate_expired"]
    revoked = figures["certificate_revoked"]
    yield _gauge("certctl_certificate_total", "Certificates not archived", total)
    yield _gauge(
        "certctl_certificate_active",
        "Certificates not archived, expiring, expired or revoked (total - expiring_soon - expired - revoked)",
        figures["certificate_active"],
    )
    yield _gauge(
        "certctl_certificate_expiring_soon",
        "Certificates expiring within 30 days, not expired or revoked",
        expiring,
    )
    yield _gauge(
        "certctl_certificate_expired",
        "Certificates with status Expired or past their expiry, not revoked",
        expired,
    )
    yield _gauge("certctl_certificate_revoked", "Certificates with status Revoked", revoked)
    by_status = GaugeMetricFamily(
        "certctl_certificates", "Certificates per stored status (Archived included)", labels=["status"]
    )
    for status, n in figures["certificates_by_status"].items():
        by_status.add_metric([status], n)
    yield by_status
    yield _gauge("certctl_agent_total", "Agents not retired", figures["agent_total"])
    yield _gauge(
        "certctl_agent_online",
        "Agents not retired heard from within CERTCTL_AGENT_OFFLINE_AFTER",
        figures["agent_online"],
    )
    yield _gauge(
        "certctl_job_pending",
        "Jobs Pending, AwaitingCSR, AwaitingApproval or Running",
        figures["job_pending"],
    )
    # Completed is final and jobs are never deleted, so this count only grows: an honest counter. A Failed job
    # may be retried (back to Pending), so the failed count can fall: a gauge under the reference's name.
    completed = CounterMetricFamily("certctl_job_completed_total", "Jobs completed (rows in Completed)")
    completed.add_metric([], figures["job_completed_total"])
    yield completed
    yield _gauge(
        "certctl_job_failed_total",
        "Jobs in Failed now (falls when a failed job is retried)",
        figures["job_failed_total"],
    )
    yield _gauge(
        "certctl_uptime_seconds",
        "Seconds since this server process started (each web and worker process reports its own)",
        time.time() - _process_started_at(),
    )
    ages = GaugeMetricFamily(
        "certctl_heartbeat_age_seconds",
        "Seconds since the Celery worker or beat last stamped its heartbeat (+Inf: never)",
        labels=["process"],
    )
    for process, age in heartbeat.ages(now).items():
        ages.add_metric([process], math.inf if age is None else age)
    yield ages


# --- The view -----------------------------------------------------------------------------------------------


class _DatabaseCollector(_PromCollector):
    def collect(self) -> Iterable[Metric]:
        for collector in collectors():
            yield from collector()


def render() -> bytes:
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseCollector())
    return prometheus_client.generate_latest(prometheus_client.REGISTRY) + prometheus_client.generate_latest(
        registry
    )


def _ip_allowed(remote_addr: str) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            logger.warning("ignoring invalid CERTCTL_METRICS_ALLOWED_IPS entry", extra={"entry": entry})
    return False


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the caller may read metrics: from CERTCTL_METRICS_ALLOWED_IPS or with a valid API key holding the
    `read` scope; else the 401, 403 (or 429 for a throttled address) to answer. /metrics, /api/v1/metrics and /api/v1/metrics/prometheus."""
    has_credentials = "HTTP_AUTHORIZATION" in request.META
    if has_credentials:
        try:
            found = APIKeyAuthentication().authenticate(Request(request))
            if found is None:
                raise AuthenticationFailed("Invalid API key")
            if not found[0].has_scope(READ):
                return json_error(request, 403, "this operation needs the `read` scope", "insufficient_scope")
        except TooManyFailedAuthentications as exc:  # the address is throttled: 429, as on the API
            response = json_error(request, 429, str(exc.detail), "rate_limited")
            response["Retry-After"] = str(int(exc.wait or 0) + 1)
            return response
        except AuthenticationFailed as exc:
            response = json_error(request, 401, str(exc.detail))
            response["WWW-Authenticate"] = 'Bearer realm="certctl"'
            return response
    elif not _ip_allowed(request.META.get("REMOTE_ADDR", "")):
        response = json_error(
            request,
            401,
            "Authorization header required (or scrape from an address in CERTCTL_METRICS_ALLOWED_IPS)",
        )
        response["WWW-Authenticate"] = 'Bearer realm="certctl"'
        return response
    return None


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; allowed from CERTCTL_METRICS_ALLOWED_IPS or with a valid API key."""
    return refusal(request) or HttpResponse(render(), content_type=prometheus_client.CONTENT_TYPE_LATEST)


# --- GET /api/v1/metrics: the reference product's JSON figures, with /metrics' protection ----------------------

_count = serializers.IntegerField
_GAUGES = (
    "certificate_total",
    "certificate_active",
    "certificate_expiring_soon",
    "certificate_expired",
    "certificate_revoked",
    "agent_total",
    "agent_online",
    "job_pending",
)
_COUNTERS = ("job_completed_total", "job_failed_total", "notifications_dead_total")


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@extend_schema(
    tags=["service"],
    auth=[{"apiKey": []}, {}],
    description="The reference product's JSON metrics. Without an API key only from CERTCTL_METRICS_ALLOWED_IPS, "
    "as /metrics.",
    responses=inline_serializer(
        "ReferenceMetrics",
        {
            "gauge": inline_serializer("ReferenceGauges", {name: _count() for name in _GAUGES}),
            "counter": inline_serializer("ReferenceCounters", {name: _count() for name in _COUNTERS}),
            "uptime": inline_serializer(
                "ReferenceUptime",
                {
                    "uptime_seconds": serializers.FloatField(help_text="of the web process that answered"),
                    "server_started": serializers.DateTimeField(),
                    "measured_at": serializers.DateTimeField(),
                },
            ),
        },
    ),
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def metrics_json(request: Request) -> HttpResponse:
    refused = refusal(request._request)
    if refused is not None:
        return refused
    now = timezone.now()
    figures = reference_figures(now)
    figures["notifications_dead_total"] = stats.notification_counts()["notifications_dead"]
    started = _process_started_at()
    return Response(
        {
            "gauge": {name: figures[name] for name in _GAUGES},
            "counter": {name: figures[name] for name in _COUNTERS},
            "uptime": {
                "uptime_seconds": round(now.timestamp() - started, 3),
                "server_started": _iso(datetime.fromtimestamp(started, UTC)),
                "measured_at": _iso(now),
            },
        }
    )
