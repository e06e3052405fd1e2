"""`/metrics`: django-prometheus's process registry plus series computed from the database at scrape time.

Values live in the database (certctl.kernel.counters, row counts), so every gunicorn and Celery process reports
into one number. An app adds series by defining `collect() -> Iterable[Metric]` in `<app>/metrics.py` (the
certificates app's yields those of its packages, e.g. certificates/expiry/metrics.py), or by calling
`register(collector)`. certctl.kernel.metrics builds counter and histogram families from the counters.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from functools import cache
from importlib import import_module

import prometheus_client
from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.core import Metric
from prometheus_client.registry import Collector as _PromCollector
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from certctl.api.authentication import APIKeyAuthentication
from certctl.api.errors import json_error

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
    return [*_discovered(), *_registered]


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
