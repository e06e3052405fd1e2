"""`record(...)`: the one way every app writes a domain audit event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from audit.models import ActorType, AuditEvent
from audit.services.redaction import redact

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
    """Write one audit event. Call it inside the transaction of the change it describes."""
    return AuditEvent.objects.create(
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        actor=actor or SYSTEM_ACTOR,
        actor_type=actor_type,
        details=redact(details),
        timestamp=now or timezone.now(),
    )


def record_many(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Several events (keyword arguments of `record`) for one bulk change, inside its transaction."""
    return [record(**fields) for fields in events]
