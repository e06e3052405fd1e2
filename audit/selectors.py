"""Named reads of the audit trail: the filters shared by the list, the export and the admin."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

from audit.models import ActorType, AuditEvent

EXACT_FILTERS = ("actor", "action", "resource_type", "resource_id")


def parse_instant(name: str, raw: str) -> datetime:
    """An ISO-8601 date-time (`2026-01-02T03:04:05Z`) or date (`2026-01-02`, midnight UTC); 400 otherwise."""
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            value = datetime.combine(day, time.min) if day else None
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: [f"must be an ISO-8601 date or date-time, got {raw!r}"]})
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def filtered_events(params) -> QuerySet[AuditEvent]:
    """Events matching `actor, actor_type, action, resource_type, resource_id` (exact) and `from <= t < to`.

    Every filter is checked here, before the query runs: the export streams it after the 200 is sent.
    """
    queryset = AuditEvent.objects.all()
    for name in EXACT_FILTERS:
        value = params.get(name)
        if value and "\x00" in value:  # PostgreSQL cannot compare it; the other filters are parsed below
            raise ValidationError({name: ["must not contain a NUL character"]})
        if value not in (None, ""):
            queryset = queryset.filter(**{name: value})
    actor_type = params.get("actor_type")
    if actor_type not in (None, ""):
        if actor_type not in ActorType.values:
            raise ValidationError({"actor_type": [f"must be one of {', '.join(ActorType.values)}"]})
        queryset = queryset.filter(actor_type=actor_type)
    start = parse_instant("from", params["from"]) if params.get("from") else None
    end = parse_instant("to", params["to"]) if params.get("to") else None
    if start and end and start > end:
        raise ValidationError({"from": ["must not be after 'to'"]})
    if start:
        queryset = queryset.filter(timestamp__gte=start)
    if end:
        queryset = queryset.filter(timestamp__lt=end)
    return queryset
