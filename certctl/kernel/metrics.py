"""Prometheus families built from certctl.kernel.counters: what an app's `metrics.py` returns from `collect()`."""

from __future__ import annotations

import bisect
import math
import sys
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from certctl.kernel import counters

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def counter_family(
    name: str, documentation: str, label_names: Sequence[str], *, known: Iterable[Mapping[str, str]] = ()
) -> CounterMetricFamily:
    """A counter family from a certctl.kernel.counters counter (`name` ends in `_total`).

    The `known` series are exported at 0 until first counted, so `increase()` sees their first increment.
    """
    values = {tuple(labels.get(label, "") for label in label_names): 0 for labels in known}
    for labels, value in counters.read(name).items():
        as_dict = dict(labels)
        key = tuple(as_dict.get(label, "") for label in label_names)
        values[key] = values.get(key, 0) + value
    family = CounterMetricFamily(name, documentation, labels=list(label_names))
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
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


class BufferedHistogram:
    """An `observe_many` histogram for a hot path: observed in process memory, written now and then.

    The bucket counts and the sum are two `counters.BufferedCounter`s (so they are written after each Celery
    task and at exit, like every buffered counter) that this histogram writes together: when `flush_every`
    observations are pending, at the first observation `flush_seconds` after the last write, and by `flush()`
    (call it from the collector). `histogram_family(name, ...)` renders it.
    """

    def __init__(
        self,
        name: str,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        *,
        flush_every: int = 200,
        flush_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self.buckets = tuple(buckets)
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        # Never written on their own schedule: only together, by flush() (or by counters.flush_buffered).
        self._bucket_counts = counters.BufferedCounter(
            f"{name}_bucket", flush_every=sys.maxsize, flush_seconds=math.inf
        )
        self._sums_us = counters.BufferedCounter(
            f"{name}_sum_us", flush_every=sys.maxsize, flush_seconds=math.inf
        )
        self._lock = threading.Lock()
        self._observed = 0
        self._last_flush = time.monotonic()

    def observe(self, labels: Mapping[str, str], seconds: float) -> None:
        self._bucket_counts.increment({**labels, "le": _bucket_label(seconds, self.buckets)})
        self._sums_us.increment(labels, round(seconds * 1_000_000))
        with self._lock:
            self._observed += 1
            due = (
                self._observed >= self.flush_every
                or time.monotonic() - self._last_flush >= self.flush_seconds
            )
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            self._observed = 0
            self._last_flush = time.monotonic()
        self._bucket_counts.flush()
        self._sums_us.flush()
