"""Bulk audit writes for the expiry check: thousands of events per run in one statement.

Every bulk audit write of this stream goes through `write_audit_batch`, the bulk twin of
`audit.services.record.record` (same fields, same redaction), so it can follow any change the audit app makes
to how events are stored. On PostgreSQL it is one `INSERT … SELECT FROM unnest(…)`; elsewhere `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from audit.models import ActorType, AuditEvent
from audit.redaction import CREDENTIAL_VALUE, is_credential_key, redact
from audit.services.record import SYSTEM_ACTOR
from certctl.kernel.bulk_insert import insert_unnest
from certctl.kernel.ids import new_id


@dataclass(frozen=True)
class AuditEntry:
    action: str
    resource_type: str
    resource_id: str
    details: dict[str, Any] | None
    timestamp: datetime
    actor: str = SYSTEM_ACTOR
    actor_type: str = ActorType.SYSTEM


def write_audit_batch(events: Iterable[AuditEntry]) -> int:
    """Write the entries as audit events in one INSERT, inside the caller's transaction; returns how many."""
    events = list(events)
    if connection.vendor == "postgresql":
        columns = {
            "id": [new_id("audit") for _ in events],
            "action": [e.action for e in events],
            "resource_type": [e.resource_type for e in events],
            "resource_id": [str(e.resource_id) for e in events],
            "actor": [e.actor or SYSTEM_ACTOR for e in events],
            "actor_type": [e.actor_type for e in events],
            "details": [_redacted(e.details) for e in events],
            "timestamp": [e.timestamp for e in events],
        }
        if not events:
            return 0
        # A column with one value for every row (the actor, the time, ...) is one parameter, not an array.
        constants = {
            name: values[0]
            for name, values in columns.items()
            if name in _OFTEN_CONSTANT and values.count(values[0]) == len(values)
        }
        for name in constants:
            del columns[name]
        insert_unnest(AuditEvent, columns, constants=constants)
        return len(events)
    rows = [
        AuditEvent(
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=str(entry.resource_id),
            actor=entry.actor or SYSTEM_ACTOR,
            actor_type=entry.actor_type,
            details=redact(entry.details),
            timestamp=entry.timestamp,
        )
        for entry in events
    ]
    AuditEvent.objects.bulk_create(rows, batch_size=500)
    return len(rows)


_OFTEN_CONSTANT = ("resource_type", "actor", "actor_type", "timestamp")
# Keys `is_credential_key` has said no to, in this process: the bulk writers repeat a handful of keys.
_safe_keys: set[str] = set()


def _redacted(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `redact(details)` returns, without its copy and walk for the common row: a flat dict of safe keys
    whose text values no credential pattern matches (returned as it is); anything else goes through `redact`."""
    if not details:
        return None
    for key, value in details.items():
        if key not in _safe_keys:
            if type(key) is not str or is_credential_key(key):
                return redact(details)
            _safe_keys.add(key)
        if isinstance(value, str):
            if CREDENTIAL_VALUE.search(value):
                return redact(details)
        elif isinstance(value, (dict, list, tuple)):  # redact walks into these; anything else it keeps as is
            return redact(details)
    return details
