"""The hash chain: every audit row stores the hash of the row before it, so an edit or a gap shows.

Rows are appended under one lock (a PostgreSQL transaction-level advisory lock; SQLite's single writer with
`BEGIN IMMEDIATE` on the embedded setup) held until the appending transaction ends, so two writers can never
read the same tail and fork the chain. The unique `seq` column is the second guard: a writer that somehow
skipped the lock fails its insert instead of forking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from audit.models import AuditEvent

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key: the ASCII bytes of "audit".
CHAIN_LOCK_KEY = 0x6175646974
HASHED_FIELDS = ("id", "seq", "timestamp", "actor", "actor_type", "action", "resource_type", "resource_id")


def stored_form(details: Any) -> Any:
    """`details` exactly as the JSON column gives it back (dates as strings, tuples as lists)."""
    if details is None:
        return None
    return json.loads(json.dumps(details, cls=DjangoJSONEncoder))


def _normalise(value: Any) -> Any:
    # jsonb prints 1.0 as 1.0 but 1e20 as an integer: integral floats hash as integers so both read back alike.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def iso_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(row: dict[str, Any]) -> bytes:
    """The bytes a row hash covers: the content columns, `details` and `prev_hash` as sorted compact JSON."""
    body = {name: row[name] for name in HASHED_FIELDS}
    body["timestamp"] = iso_timestamp(row["timestamp"])
    body["details"] = _normalise(row["details"])
    body["prev_hash"] = row["prev_hash"]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(row)).hexdigest()


def _event_row(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in (*HASHED_FIELDS, "details", "prev_hash")}


def lock_chain() -> None:
    """Serialise appends until the current transaction ends (no-op outside PostgreSQL: SQLite has one writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def chain_tail() -> tuple[int, str]:
    """(seq, row_hash) of the last row, or (0, GENESIS_HASH) for an empty trail."""
    tail = AuditEvent.objects.order_by("-seq").values_list("seq", "row_hash").first()
    return tail if tail is not None else (0, GENESIS_HASH)


def append(events: Sequence[AuditEvent]) -> Sequence[AuditEvent]:
    """Give unsaved events their chain position and hashes and insert them, in one transaction."""
    if not events:
        return events
    with transaction.atomic():
        lock_chain()
        seq, prev = chain_tail()
        for event in events:
            seq += 1
            event.seq = seq
            event.details = stored_form(event.details)
            event.prev_hash = prev
            event.row_hash = prev = row_hash(_event_row(event))
        if len(events) == 1:
            events[0].save()
        elif connection.vendor == "postgresql":
            _insert_unnest(events)
        else:
            AuditEvent.objects.bulk_create(events, batch_size=1000)
    return events


_COLUMNS = ("id", "seq", "actor", "actor_type", "action", "resource_type", "resource_id", "details", "timestamp",
            "prev_hash", "row_hash")  # fmt: skip
_UNNEST_SQL = """
INSERT INTO audit_auditevent
    (id, seq, actor, actor_type, action, resource_type, resource_id, details, timestamp, prev_hash, row_hash)
SELECT id, seq, actor, actor_type, action, resource_type, resource_id, details::jsonb, timestamp, prev_hash, row_hash
FROM unnest(%s::varchar[], %s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
            %s::varchar[], %s::text[], %s::timestamptz[], %s::varchar[], %s::varchar[])
    AS rows (id, seq, actor, actor_type, action, resource_type, resource_id, details, timestamp, prev_hash, row_hash)
"""


def _insert_unnest(events: Sequence[AuditEvent]) -> None:
    """Many rows in one statement, one array parameter per column (several times faster than bulk_create)."""
    params = []
    for column in _COLUMNS:
        if column == "details":
            params.append([None if e.details is None else json.dumps(e.details) for e in events])
        else:
            params.append([getattr(e, column) for e in events])
    with connection.cursor() as cursor:
        cursor.execute(_UNNEST_SQL, params)


def iter_rows(chunk_size: int = 2000) -> Iterable[dict[str, Any]]:
    """Every row in chain order, streamed."""
    fields = (*HASHED_FIELDS, "details", "prev_hash", "row_hash")
    return AuditEvent.objects.order_by("seq").values(*fields).iterator(chunk_size=chunk_size)
