"""The hash chain: every sealed audit row stores the hash of the row before it, so an edit or a gap shows.

Writers never wait for each other: `record()` only INSERTs a row (`seq` NULL, "unsealed") in the caller's
transaction. Sealing gives committed unsealed rows their chain position and hashes, in short transactions of its
own, under one lock (a PostgreSQL transaction-level advisory lock; `BEGIN IMMEDIATE` on SQLite) so two sealers can
never read the same tail and fork the chain; the unique `seq` column is the second guard. The append-only
trigger allows exactly this one change: setting the chain columns of an unsealed row, content unchanged.

Sealing runs after every batch of the API writer, from the `audit.seal_chain` periodic task, and before a prune.
"""

from __future__ import annotations

import hashlib
import hmac
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
SEAL_BATCH = 5000
# What an `audit_pruned` anchor records and its MAC covers: the seq range it deleted, the count, and the hash the
# first kept row chains to.
ANCHOR_FIELDS = ("before", "deleted", "first_deleted_seq", "first_kept_seq", "anchor_hash")
ANCHOR_MAC_CONTEXT = b"certctl audit anchor v2\n"


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


def anchor_mac(key: bytes, anchor: dict[str, Any]) -> str:
    """HMAC-SHA256 over an `audit_pruned` anchor's fields (ANCHOR_FIELDS), keyed with the anchor key.

    The key is held by whoever runs prune_audit and verify_audit, never by the web and worker processes, so a role
    that can only INSERT audit rows (or an owner who deletes rows) cannot write an anchor that verifies.
    """
    body = {name: anchor.get(name) for name in ANCHOR_FIELDS}
    message = ANCHOR_MAC_CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def anchor_mac_ok(key: bytes, anchor: dict[str, Any]) -> bool:
    mac = anchor.get("anchor_mac")
    return isinstance(mac, str) and hmac.compare_digest(mac, anchor_mac(key, anchor))


def lock_chain() -> None:
    """Serialise sealing until the current transaction ends (no-op outside PostgreSQL: SQLite has one writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def chain_tail() -> tuple[int, str]:
    """(seq, row_hash) of the last sealed row, or (0, GENESIS_HASH) for an empty chain."""
    tail = (
        AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", "row_hash").first()
    )
    return tail if tail is not None else (0, GENESIS_HASH)


def insert_rows(rows: Sequence[dict[str, Any]]) -> int:
    """INSERT unsealed events given as column dicts, one statement on PostgreSQL; takes no lock."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        params = [[row[c] for row in rows] for c in _INSERT_COLUMNS[:-1]]
        params.append(
            [None if r["details"] is None else json.dumps(r["details"], cls=DjangoJSONEncoder) for r in rows]
        )
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, params)
    else:
        AuditEvent.objects.bulk_create([AuditEvent(**row) for row in rows], batch_size=1000)
    return len(rows)


def seal(batch_size: int = SEAL_BATCH) -> int:
    """Chain every committed unsealed row, oldest first, in transactions of `batch_size`; returns how many."""
    sealed = 0
    while True:
        with transaction.atomic():
            lock_chain()
            seq, prev = chain_tail()
            rows = list(
                AuditEvent.objects.filter(seq__isnull=True)
                .order_by("timestamp", "id")
                .values(*HASHED_FIELDS, "details")[:batch_size]
            )
            for row in rows:
                seq += 1
                row["seq"], row["prev_hash"] = seq, prev
                row["row_hash"] = prev = row_hash(row)
            _write_seals(rows)
        sealed += len(rows)
        if len(rows) < batch_size:
            return sealed


def _write_seals(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_SEAL_SQL, [[r[c] for r in rows] for c in ("id", "seq", "prev_hash", "row_hash")])
        else:
            cursor.executemany(
                "UPDATE audit_auditevent SET seq = %s, prev_hash = %s, row_hash = %s WHERE id = %s AND seq IS NULL",
                [(r["seq"], r["prev_hash"], r["row_hash"], r["id"]) for r in rows],
            )


def unsealed_count() -> int:
    return AuditEvent.objects.filter(seq__isnull=True).count()


def iter_rows(chunk_size: int = 2000) -> Iterable[dict[str, Any]]:
    """Every sealed row in chain order, streamed."""
    fields = (*HASHED_FIELDS, "details", "prev_hash", "row_hash")
    return (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values(*fields)
        .iterator(chunk_size=chunk_size)
    )


_INSERT_COLUMNS = (
    "id",
    "actor",
    "actor_type",
    "action",
    "resource_type",
    "resource_id",
    "timestamp",
    "details",
)
_INSERT_SQL = """
INSERT INTO audit_auditevent
    (id, actor, actor_type, action, resource_type, resource_id, timestamp, details, prev_hash, row_hash)
SELECT id, actor, actor_type, action, resource_type, resource_id, timestamp, details::jsonb, '', ''
FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
            %s::timestamptz[], %s::text[])
    AS rows (id, actor, actor_type, action, resource_type, resource_id, timestamp, details)
"""
_SEAL_SQL = """
UPDATE audit_auditevent AS event SET seq = sealed.seq, prev_hash = sealed.prev_hash, row_hash = sealed.row_hash
FROM unnest(%s::varchar[], %s::bigint[], %s::varchar[], %s::varchar[]) AS sealed (id, seq, prev_hash, row_hash)
WHERE event.id = sealed.id AND event.seq IS NULL
"""
