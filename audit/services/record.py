"""`record(...)`: the one way every app writes a domain audit event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from audit.models import ActorType, AuditEvent
from audit.redaction import redact
from audit.services import chain
from certctl.kernel import rows
from certctl.kernel.ids import new_id

SYSTEM_ACTOR = "system"


def record(
    action: str,
    *,
    resource_type: str,
    resource_id: str,
    actor: str = SYSTEM_ACTOR,
    actor_type: str = ActorType.SYSTEM,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the transaction of the change it describes.

    A plain INSERT, no lock: the event joins the hash chain when it is sealed after commit (audit.services.chain).
    """
    event = new_event(
        action,
        resource_type=resource_type,
        resource_id=resource_id,
        actor=actor,
        actor_type=actor_type,
        details=details,
        now=now,
    )
    rows.insert(event)  # event_row() already redacted; this is AuditEvent.save() without the ORM overhead
    return event


def new_event(
    action: str,
    *,
    resource_type: str,
    resource_id: str,
    actor: str = SYSTEM_ACTOR,
    actor_type: str = ActorType.SYSTEM,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """The unsaved event `record` would write, for callers that write it with other rows (`certctl.kernel.rows.write`)."""
    return AuditEvent(**event_row(action, resource_type, resource_id, actor, actor_type, details, now))


def record_many(entries: Iterable[dict[str, Any]]) -> int:
    """Write many events in one statement, in the caller's transaction: the bulk twin of `record`.

    Each entry holds `record`'s keyword arguments: `action`, `resource_type`, `resource_id` and optionally
    `actor`, `actor_type`, `details`, `now`. Same redaction; one INSERT for all; returns how many.
    """
    rows = [
        event_row(
            entry["action"],
            entry["resource_type"],
            entry["resource_id"],
            entry.get("actor", SYSTEM_ACTOR),
            entry.get("actor_type", ActorType.SYSTEM),
            entry.get("details"),
            entry.get("now"),
        )
        for entry in entries
    ]
    return chain.insert_rows(rows)


def event_row(action, resource_type, resource_id, actor, actor_type, details, now) -> dict[str, Any]:
    """The column values of one new, redacted, unsealed event."""
    timestamp = now or timezone.now()
    if timezone.is_naive(timestamp):
        timestamp = timezone.make_aware(timestamp, UTC)
    return {
        "id": new_id("audit"),
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id),
        "actor": actor or SYSTEM_ACTOR,
        "actor_type": actor_type,
        "details": redact(details),
        "timestamp": timestamp,
    }
