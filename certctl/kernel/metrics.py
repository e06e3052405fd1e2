"""Prometheus families built from certctl.kernel.counters: what an app's `metrics.py` returns from `collect()`."""

from __future__ import annotations

import bisect
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from certctl.kernel import counters

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def counter_family(name: str, documentation: str, label_names: Sequence[str]) -> CounterMetricFamily:
    """A counter family from a certctl.kernel.counters counter (`name` ends in `_total`)."""
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
