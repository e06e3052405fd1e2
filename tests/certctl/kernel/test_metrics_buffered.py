"""Prometheus families on the database counters: buffered histograms and counters exported from zero."""

from __future__ import annotations

import pytest

from certctl.kernel import counters
from certctl.kernel.metrics import BufferedHistogram, counter_family, histogram_family

pytestmark = pytest.mark.django_db


def _samples(family) -> dict:
    return {(s.name, s.labels.get("le")): s.value for s in family.samples}


def test_buffered_observations_reach_the_histogram_together_at_the_threshold():
    histogram = BufferedHistogram(
        "certctl_buffered_test_seconds", (0.1, 1.0), flush_every=3, flush_seconds=3600
    )
    histogram.observe({"k": "a"}, 0.05)
    histogram.observe({"k": "a"}, 0.5)
    assert counters.read("certctl_buffered_test_seconds_bucket") == {}
    assert counters.read("certctl_buffered_test_seconds_sum_us") == {}
    histogram.observe({"k": "a"}, 5)

    samples = _samples(histogram_family("certctl_buffered_test_seconds", "test", ["k"], histogram.buckets))
    assert samples[("certctl_buffered_test_seconds_bucket", "0.1")] == 1
    assert samples[("certctl_buffered_test_seconds_bucket", "1.0")] == 2
    assert samples[("certctl_buffered_test_seconds_bucket", "+Inf")] == 3
    assert samples[("certctl_buffered_test_seconds_count", None)] == 3
    assert samples[("certctl_buffered_test_seconds_sum", None)] == pytest.approx(5.55)


def test_pending_observations_are_written_with_the_buffered_counters():
    histogram = BufferedHistogram("certctl_buffered_late_seconds", flush_every=1000, flush_seconds=3600)
    histogram.observe({"k": "b"}, 0.2)
    counters.flush_buffered()  # after every Celery task and at exit
    samples = _samples(histogram_family("certctl_buffered_late_seconds", "test", ["k"]))
    assert samples[("certctl_buffered_late_seconds_count", None)] == 1
    assert samples[("certctl_buffered_late_seconds_sum", None)] == pytest.approx(0.2)


def test_known_counter_series_are_exported_at_zero_until_counted():
    counters.increment("certctl_known_test_total", {"result": "sent", "channel": "Slack"}, 2)
    family = counter_family(
        "certctl_known_test_total",
        "test",
        ["channel", "result"],
        known=[{"channel": "Slack", "result": "sent"}, {"channel": "Slack", "result": "dead"}],
    )
    assert {tuple(s.labels.values()): s.value for s in family.samples} == {
        ("Slack", "dead"): 0,
        ("Slack", "sent"): 2,
    }
