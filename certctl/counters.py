"""Counters shared by all processes: `increment("certctl_x_total", {"channel": "Slack"})`.

Each series is one row, added to with `INSERT … ON CONFLICT DO UPDATE SET value = value + n` (PostgreSQL and
SQLite), so concurrent workers never lose an increment. Hot paths should batch with `increment_many`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.db import connection

from certctl.models import MetricCounter

Labels = Mapping[str, str]


def _canonical(labels: Labels) -> str:
    return json.dumps({k: str(v) for k, v in sorted(labels.items())}, separators=(",", ":"))


def increment_many(name: str, amounts: Mapping[str, int] | list[tuple[Labels, int]]) -> None:
    """Add to several series of one counter in one statement; `amounts` is [(labels, n), ...]."""
    rows = [(name, _canonical(labels), int(n)) for labels, n in amounts if n]
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


def read(name: str) -> dict[tuple[tuple[str, str], ...], int]:
    """Every series of a counter: {((label, value), ...): total}."""
    out = {}
    for labels, value in MetricCounter.objects.filter(name=name).values_list("labels", "value"):
        out[tuple(sorted(json.loads(labels).items()))] = value
    return out
