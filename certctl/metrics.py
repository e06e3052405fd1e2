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
from functools import cache
from importlib import import_module

import prometheus_client
from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from certctl.api.authentication import APIKeyAuthentication
from certctl.api.errors import json_error
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


def root_series() -> Iterable[Metric]:
    """The reference product's inventory series, counted as `GET /api/v1/stats/summary` counts them (one
    aggregate each for certificates, agents and jobs), this process's uptime and the background processes'
    heartbeat ages (one read of their rows)."""
    now = timezone.now()
    certificates = stats.certificate_counts(now)
    agents = stats.agent_counts(now)
    jobs = stats.job_counts()
    total = certificates["total_certificates"]
    expiring = certificates["expiring_certificates"]
    expired = certificates["expired_certificates"]
    revoked = certificates["revoked_certificates"]
    yield _gauge("certctl_certificate_total", "Certificates not archived", total)
    yield _gauge(
        "certctl_certificate_active",
        "Certificates not archived, expiring, expired or revoked (total - expiring_soon - expired - revoked)",
        total - expiring - expired - revoked,
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
    for status, n in certificates["certificates_by_status"].items():
        by_status.add_metric([status], n)
    yield by_status
    yield _gauge("certctl_agent_total", "Agents not retired", agents["total_agents"])
    yield _gauge(
        "certctl_agent_online",
        "Agents not retired heard from within CERTCTL_AGENT_OFFLINE_AFTER",
        agents["active_agents"],
    )
    yield _gauge(
        "certctl_job_pending", "Jobs Pending, AwaitingCSR, AwaitingApproval or Running", jobs["pending_jobs"]
    )
    # Completed is final and jobs are never deleted, so this count only grows: an honest counter. A Failed job
    # may be retried (back to Pending), so the failed count can fall: a gauge under the reference's name.
    completed = CounterMetricFamily("certctl_job_completed_total", "Jobs completed (rows in Completed)")
    completed.add_metric([], jobs["completed_jobs"])
    yield completed
    yield _gauge(
        "certctl_job_failed_total",
        "Jobs in Failed now (falls when a failed job is retried)",
        jobs["failed_jobs"],
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


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; allowed from CERTCTL_METRICS_ALLOWED_IPS or with a valid API key."""
    has_credentials = "HTTP_AUTHORIZATION" in request.META
    if has_credentials:
        try:
            if APIKeyAuthentication().authenticate(Request(request)) is None:
                raise AuthenticationFailed("Invalid API key")
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
    return HttpResponse(render(), content_type=prometheus_client.CONTENT_TYPE_LATEST)
