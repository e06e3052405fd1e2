"""Writing one outbox row per destination for the sweeps that fan out (escalation steps, daily digests):
resolving destination references, skipping unusable destinations with a reason, and writing each row once.

Notifications may not import the certificates app, so destination references (ids, names, channel names) are
resolved here by the same rule the expiry routing follows: a channel name means that channel's built-in
environment destination.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Q

from notifications.channels.targets import environment_settings, target_for
from notifications.enums import KIND_CHANNEL, Channel, DestinationKind, builtin_destination_id
from notifications.models import Destination, NotificationEvent
from notifications.services.destinations import is_configured
from notifications.services.outbox import insert_once, new_event, schedule_delivery


@dataclass
class Resolved:
    """Destinations to send to, in reference order and de-duplicated, and the references skipped with why."""

    destinations: list[Destination] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def resolve(refs: Iterable[object]) -> Resolved:
    """Destination ids or names, or channel names (the built-in environment destination): one query."""
    wanted = [builtin_destination_id(ref) if ref in Channel.values else ref for ref in refs]
    names = [ref for ref in wanted if isinstance(ref, str)]
    found = Destination.objects.filter(Q(pk__in=names) | Q(name__in=names)) if names else []
    by_ref: dict[str, Destination] = {}
    for destination in found:
        by_ref.setdefault(destination.pk, destination)
        by_ref.setdefault(destination.name, destination)
    result = Resolved()
    seen: set[str] = set()
    for ref in wanted:
        destination = by_ref.get(ref) if isinstance(ref, str) else None
        reason = unusable_reason(destination)
        if reason:
            result.skipped.append({"destination": str(ref), "reason": reason})
        elif destination.pk not in seen:
            seen.add(destination.pk)
            result.destinations.append(destination)
    return result


def unusable_reason(destination: Destination | None) -> str:
    """Why a destination cannot be sent to now ("" when it can): unknown, disabled, or not configured."""
    if destination is None:
        return "no such destination"
    if not destination.enabled:
        return "disabled"
    if destination.from_environment and not is_configured(target_for(destination)):
        return "its CERTCTL_* variables are not set"
    return ""


def token_of(destination: Destination) -> str:
    """The destination's part of a dedup key: the channel name for built-ins (as routing does), else its id."""
    return KIND_CHANNEL[destination.kind] if destination.from_environment else destination.pk


def has_own_recipients(destination: Destination) -> bool:
    """An email destination with its own address list (otherwise it writes to the certificate owner)."""
    config = destination.config if isinstance(destination.config, dict) else {}
    return not destination.from_environment and bool(config.get("recipients"))


def recipient_for(destination: Destination, owner_email: str = "") -> str:
    """What the row shows as its recipient, as the expiry routing writes it: the owner's address for email
    without a list of its own, the Slack channel or channel name for a built-in, else the destination's name."""
    if destination.kind == DestinationKind.EMAIL and not has_own_recipients(destination):
        return owner_email
    if destination.from_environment:
        config = environment_settings(destination.kind)[0]
        return config.get("channel") or KIND_CHANNEL[destination.kind]
    return destination.name


def row_for(destination: Destination, **fields) -> NotificationEvent:
    """An unsaved pending row to `destination` (its channel, name snapshot; recipient and subject trimmed)."""
    return new_event(
        channel=KIND_CHANNEL[destination.kind],
        destination=destination,
        destination_name=destination.name,
        **fields,
    )


def write_once(rows: Sequence[NotificationEvent]) -> list[NotificationEvent]:
    """Insert the rows whose dedup key is new (the unique key decides, so two workers cannot both write one);
    deliver them after commit. Returns those written. Call it inside the caller's transaction."""
    created = [row for row in rows if insert_once(row)]
    schedule_delivery([row.pk for row in created])
    return created
