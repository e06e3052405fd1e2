"""Bulk audit writes for the expiry check: thousands of events per run in one statement.

Every bulk audit write of this stream goes through `write_audit_batch`, the bulk twin of
`audit.services.record.record` (same fields, same redaction), so it can follow any change the audit app makes
to how events are stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.models import ActorType, AuditEvent
from audit.services.record import SYSTEM_ACTOR
from audit.services.redaction import redact


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
    if rows:
        AuditEvent.objects.bulk_create(rows)
    return len(rows)
