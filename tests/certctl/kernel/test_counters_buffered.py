"""Buffered counters: counted in memory, written as one UPSERT per flush, never lost on the way."""

from __future__ import annotations

import pytest

from certctl.kernel import counters

pytestmark = pytest.mark.django_db


def test_counts_reach_the_shared_row_at_the_threshold_and_on_flush():
    counter = counters.BufferedCounter("certctl_buffered_test_total", flush_every=10, flush_seconds=3600)
    for _ in range(9):
        counter.increment({"outcome": "success"})
    assert counters.read("certctl_buffered_test_total") == {}
    counter.increment({"outcome": "success"})
    counter.increment({"outcome": "failure"}, 2)
    assert counters.read("certctl_buffered_test_total") == {(("outcome", "success"),): 10}
    counters.flush_buffered()
    assert counters.read("certctl_buffered_test_total") == {
        (("outcome", "success"),): 10,
        (("outcome", "failure"),): 2,
    }


def test_an_increment_after_the_interval_writes_everything_pending():
    counter = counters.BufferedCounter("certctl_buffered_age_total", flush_every=1000, flush_seconds=0)
    counter.increment({"channel": "Slack"}, 3)
    assert counters.read("certctl_buffered_age_total") == {(("channel", "Slack"),): 3}
