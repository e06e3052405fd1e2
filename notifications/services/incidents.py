"""PagerDuty and OpsGenie incidents: one per certificate and expiry, resolved when the certificate is renewed
(a new version), revoked or archived.

The incident key (`certctl-<certificate id>-<not_after as YYYYmmddTHHMMSSZ>`) is the PagerDuty `dedup_key` and
the OpsGenie `alias` of every alert for that expiry, so a later threshold updates the same incident. Resolving
writes one IncidentResolved row per destination that was sent a trigger, through the same outbox (retries, dead
letter); the channels turn it into PagerDuty's `event_action: resolve` and OpsGenie's close call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.channels.pagerduty import alert_key
from notifications.enums import Channel, NotificationStatus, NotificationType, builtin_destination_id
from notifications.models import NotificationEvent
from notifications.services.outbox import PendingEvent, enqueue_many

INCIDENT_CHANNELS = (Channel.PAGERDUTY, Channel.OPSGENIE)
# A trigger in one of these states was, or may yet be, received: its incident needs a resolve.
TRIGGERED = (
    NotificationStatus.SENT,
    NotificationStatus.PENDING,
    NotificationStatus.FAILED,
    NotificationStatus.DEFERRED,
)
# Not sent yet: held back for good once its incident is resolved, or it would open the incident again.
NOT_YET_SENT = (NotificationStatus.PENDING, NotificationStatus.FAILED, NotificationStatus.DEFERRED)
_FIELDS = (
    "id",
    "type",
    "channel",
    "status",
    "certificate_id",
    "incident_key",
    "destination_id",
    "destination_name",
    "recipient",
    "claimed_until",
    "escalation_due_at",
)


def incident_key(certificate_id: str, expires_at: datetime) -> str:
    """The PagerDuty dedup_key / OpsGenie alias of a certificate's alerts for one expiry."""
    return f"certctl-{certificate_id}-{expires_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def destination_token(channel: str, destination_id: str | None) -> str:
    """How dedup keys name a destination: the channel for built-in ones (as before destinations), else its id."""
    if destination_id is None or destination_id == builtin_destination_id(channel):
        return channel
    return destination_id


def resolve_incidents(
    certificate_id: str, *, reason: str, name: str = "", now: datetime | None = None
) -> int:
    """Resolve the certificate's open PagerDuty/OpsGenie incidents; call it in the transaction that renews
    (new version), revokes or archives it. `reason` completes "certificate <name> was ..." ("renewed").
    Returns how many resolve rows were written."""
    return resolve_incidents_many({certificate_id: name}, reason=reason, now=now)


def resolve_incidents_many(
    certificates: Mapping[str, str], *, reason: str, now: datetime | None = None
) -> int:
    """`resolve_incidents` for many certificates ({id: name}): one read when nothing is open (the usual case).

    For every PagerDuty/OpsGenie destination that was sent a trigger (sent, or pending/failed/deferred) under
    one of the certificates' incident keys: one IncidentResolved row, deduplicated per incident and destination
    (`resolve:<incident key>:<destination token>`), so a second renewal resolves nothing twice. Triggers not yet
    sent are held back (dead, with the reason), and escalation of the certificates' alerts stops.
    """
    if not certificates:
        return 0
    now = now or timezone.now()
    rows = list(
        NotificationEvent.objects.filter(certificate_id__in=list(certificates))
        .filter(
            Q(channel__in=INCIDENT_CHANNELS, status__in=TRIGGERED)
            & (Q(incident_key__gt="") | Q(type=NotificationType.EXPIRATION_WARNING))
            | Q(escalation_due_at__isnull=False)
        )
        .exclude(type=NotificationType.INCIDENT_RESOLVED)
        .only(*_FIELDS)
    )
    if not rows:
        return 0
    triggers = [row for row in rows if row.channel in INCIDENT_CHANNELS and row.status in TRIGGERED]
    resolves = _resolve_events(triggers, certificates, reason)
    held_back = [
        row.pk
        for row in triggers
        if row.status in NOT_YET_SENT and (row.claimed_until is None or row.claimed_until < now)
    ]
    escalating = [row.pk for row in rows if row.escalation_due_at is not None]
    with transaction.atomic():
        if held_back:
            NotificationEvent.objects.filter(pk__in=held_back, status__in=NOT_YET_SENT).filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
            ).update(
                status=NotificationStatus.DEAD,
                next_retry_at=None,
                deferred_until=None,
                last_error=f"not sent: the incident was resolved (certificate {reason})",
                updated_at=now,
            )
        if escalating:
            NotificationEvent.objects.filter(pk__in=escalating).update(escalation_due_at=None, updated_at=now)
        return len(enqueue_many(resolves))


def _resolve_events(
    triggers: Iterable[NotificationEvent], certificates: Mapping[str, str], reason: str
) -> list[PendingEvent]:
    events: dict[str, PendingEvent] = {}
    for row in triggers:
        if row.destination_id is None and row.destination_name:
            continue  # its destination was deleted: nowhere to send the resolve
        key = alert_key(row)
        dedup_key = f"resolve:{key}:{destination_token(row.channel, row.destination_id)}"
        if dedup_key in events:
            continue
        name = certificates.get(row.certificate_id) or row.certificate_id
        events[dedup_key] = PendingEvent(
            type=NotificationType.INCIDENT_RESOLVED,
            channel=row.channel,
            recipient=row.recipient,
            subject=f"[certctl] resolved: certificate {name} was {reason}",
            message=f"Certificate {name} ({row.certificate_id}) was {reason}; its expiry alert is resolved.",
            certificate_id=row.certificate_id,
            dedup_key=dedup_key,
            destination_id=row.destination_id,
            destination_name=row.destination_name,
            incident_key=key,
        )
    return list(events.values())
