"""`/metrics`: django-prometheus's process registry plus series computed from the database at scrape time.

Values live in the database (certctl.counters, row counts), so every gunicorn and Celery process reports into
one number. An app adds series by defining `collect() -> Iterable[Metric]` in `<app>/metrics.py` or in any
`<app>/<topic>_metrics.py` (e.g. certificates/expiry_metrics.py; discovered like schedules, so two streams
never edit one file), or by calling `register(collector)`. Helpers build counter and histogram families from
certctl.counters: `counter_family`, `observe_many` + `histogram_family`.
"""

from __future__ import annotations

import bisect
import ipaddress
import logging
import pkgutil
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import import_module

import prometheus_client
from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector as _PromCollector
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from certctl import counters
from certctl.api.authentication import APIKeyAuthentication
from certctl.api.errors import json_error

logger = logging.getLogger(__name__)

CollectorFn = Callable[[], Iterable[Metric]]
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_registered: list[CollectorFn] = []


def register(collector: CollectorFn) -> CollectorFn:
    """Add a collector callable (usable as a decorator); it runs at every scrape."""
    if collector not in _registered:
        _registered.append(collector)
    return collector


@cache
def _discovered() -> tuple[CollectorFn, ...]:
    """`collect` of every `<app>/metrics.py` and `<app>/*_metrics.py` module, in a stable order."""
    found = []
    for config in apps.get_app_configs():
        names = sorted(
            info.name
            for info in pkgutil.iter_modules([config.path])
            if info.name == "metrics" or info.name.endswith("_metrics")
        )
        for name in names:
            module = import_module(f"{config.name}.{name}")
            if module.__name__ != __name__ and callable(getattr(module, "collect", None)):
                found.append(module.collect)
    return tuple(found)


def collectors() -> list[CollectorFn]:
    return [*_discovered(), *_registered]


# --- Helpers for apps: counters and histograms kept in certctl.counters ------------------------------------


def counter_family(name: str, documentation: str, label_names: Sequence[str]) -> CounterMetricFamily:
    """A counter family from a certctl.counters counter (`name` ends in `_total`)."""
    family = CounterMetricFamily(name, documentation, labels=list(label_names))
    for labels, value in sorted(counters.read(name).items()):
        as_dict = dict(labels)
        family.add_metric([as_dict.get(label, "") for label in label_names], value)
    return family


def _bucket_label(value: float, buckets: Sequence[float]) -> str:
    index = bisect.bisect_left(buckets, value)
    return repr(float(buckets[index])) if index < len(buckets) else "+Inf"


def observe_many(
    name: str,
    observations: Iterable[tuple[Mapping[str, str], float]],
    buckets: Sequence[float] = DEFAULT_BUCKETS,
) -> None:
    """Record histogram observations [(labels, seconds), ...] in one statement per counter.

    Stored as non-cumulative bucket counts (`<name>_bucket`) and a sum in microseconds (`<name>_sum_us`);
    `histogram_family` renders the Prometheus histogram.
    """
    bucket_tally: Tally = Tally()
    sum_tally: Tally = Tally()
    for labels, seconds in observations:
        key = tuple(sorted(labels.items()))
        bucket_tally[(*key, ("le", _bucket_label(seconds, buckets)))] += 1
        sum_tally[key] += round(seconds * 1_000_000)
    counters.increment_many(f"{name}_bucket", [(dict(k), n) for k, n in bucket_tally.items()])
    counters.increment_many(f"{name}_sum_us", [(dict(k), n) for k, n in sum_tally.items()])


def histogram_family(
    name: str, documentation: str, label_names: Sequence[str], buckets: Sequence[float] = DEFAULT_BUCKETS
) -> HistogramMetricFamily:
    """The histogram recorded by `observe_many`, with cumulative buckets, `_count` and `_sum`."""
    family = HistogramMetricFamily(name, documentation, labels=list(label_names))
    per_series: dict[tuple, dict[str, int]] = {}
    for labels, value in counters.read(f"{name}_bucket").items():
        as_dict = dict(labels)
        le = as_dict.pop("le", "+Inf")
        per_series.setdefault(tuple(as_dict.get(label, "") for label in label_names), {})[le] = value
    sums = {
        tuple(dict(labels).get(label, "") for label in label_names): value
        for labels, value in counters.read(f"{name}_sum_us").items()
    }
    bounds = [repr(float(b)) for b in buckets] + ["+Inf"]
    for key in sorted(per_series):
        running, cumulative = 0, []
        for bound in bounds:
            running += per_series[key].get(bound, 0)
            cumulative.append((bound, running))
        family.add_metric(list(key), cumulative, sum_value=sums.get(key, 0) / 1_000_000)
    return family


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
