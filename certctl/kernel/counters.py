"""Counters shared by all processes: `increment("certctl_x_total", {"channel": "Slack"})`.

Each series is one row, added to with `INSERT … ON CONFLICT DO UPDATE SET value = value + n` (PostgreSQL and
SQLite), so concurrent workers never lose an increment. Hot paths batch with `increment_many` or count in memory
with a `BufferedCounter`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping

from django.db import connection

from certctl.kernel.models import MetricCounter

Labels = Mapping[str, str]


def _canonical(labels: Labels) -> str:
    return json.dumps({k: str(v) for k, v in sorted(labels.items())}, separators=(",", ":"))


def increment_many(name: str, amounts: Mapping[str, int] | list[tuple[Labels, int]]) -> None:
    """Add to several series of one counter in one statement; `amounts` is [(labels, n), ...]."""
    totals: Counter[str] = Counter()
    for labels, n in amounts:
        if n:
            totals[_canonical(labels)] += int(n)
    # One row per series (a series twice in one upsert is an error), in a fixed order: workers that add to the
    # same series at once then lock their rows in the same order and cannot deadlock on each other.
    rows = [(name, labels, n) for labels, n in sorted(totals.items()) if n]
    if not rows:
        return
    table = MetricCounter._meta.db_table
    placeholders = ", ".join(["(%s, %s, %s)"] * len(rows))
    params = [value for row in rows for value in row]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, labels, value) VALUES {placeholders} "  # noqa: S608 - table name is ours
            f"ON CONFLICT (name, labels) DO UPDATE SET value = {table}.value + excluded.value",
            params,
        )


def increment(name: str, labels: Labels, amount: int = 1) -> None:
    increment_many(name, [(labels, amount)])


def total(name: str) -> int:
    """The sum of every series of a counter (0 when none was added to yet)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(value), 0) FROM {MetricCounter._meta.db_table} WHERE name = %s",  # noqa: S608
            [name],
        )
        return int(cursor.fetchone()[0])


def read(name: str) -> dict[tuple[tuple[str, str], ...], int]:
    """Every series of a counter: {((label, value), ...): total}."""
    out = {}
    for labels, value in MetricCounter.objects.filter(name=name).values_list("labels", "value"):
        out[tuple(sorted(json.loads(labels).items()))] = value
    return out


class BufferedCounter:
    """A hot counter added to in process memory and written with one `increment_many` now and then.

    Written when `flush_every` increments are pending, at the first increment `flush_seconds` after the last
    write, by `flush()` (the /metrics collector calls it), after each Celery task and at process exit. A crash
    loses at most the pending counts; every written count is correct across processes.
    """

    def __init__(self, name: str, *, flush_every: int = 200, flush_seconds: float = 5.0) -> None:
        self.name = name
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        _buffered.append(self)

    def increment(self, labels: Labels, amount: int = 1) -> None:
        with self._lock:
            self._pending[_canonical(labels)] += amount
            due = (
                self._pending.total() >= self.flush_every
                or time.monotonic() - self._last_flush >= self.flush_seconds
            )
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending = list(self._pending.items())
            self._pending.clear()
            self._last_flush = time.monotonic()
        increment_many(self.name, [(json.loads(labels), n) for labels, n in pending])

    def _reset_after_fork(self) -> None:
        # The parent writes what it had pending; a forked child starts empty.
        self._lock = threading.Lock()
        self._pending.clear()


_buffered: list[BufferedCounter] = []


def flush_buffered() -> None:
    """Write every buffered counter's pending counts (at exit, after a Celery task)."""
    for counter in _buffered:
        if counter._pending:
            counter.flush()


@atexit.register
def _flush_at_exit() -> None:
    # The database may already be gone at interpreter exit (tests); the counts are then lost, as on a crash.
    with contextlib.suppress(Exception):
        flush_buffered()


def _reset_after_fork() -> None:
    for counter in _buffered:
        counter._reset_after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
