"""Acknowledging critical alerts (API, admin action, signed one-click link): one acknowledgement covers the whole
incident, i.e. every alert row of the same certificate and expiry, and stops its escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services.record import record
from notifications.channels.ack_links import LINK_SALT
from notifications.enums import NotificationType
from notifications.models import NotificationEvent

VIA = ("api", "admin", "link")


def incident_key_of(event: NotificationEvent) -> str:
    """The incident a row belongs to: `certctl-<certificate id>-<expiry as YYYYmmddTHHMMSSZ>`, or "" if none.

    Stored on PagerDuty/OpsGenie rows and on escalation copies; derived from the expiry dedup key
    (`expiry:<cert>:<YYYYmmddTHHMMSS.ffffffZ>:<threshold>:<token>`) for the others.
    """
    if event.incident_key:
        return event.incident_key
    parts = (event.dedup_key or "").split(":")
    if event.certificate_id and len(parts) >= 3 and parts[0] == "expiry" and len(parts[2]) >= 15:
        return f"certctl-{event.certificate_id}-{parts[2][:15]}Z"
    return ""


def incident_rows(event: NotificationEvent) -> QuerySet[NotificationEvent]:
    """Every alert row of `event`'s incident (same certificate and expiry), escalation copies included; only the
    row itself when it belongs to no incident (a renewal notice, a test message)."""
    key = incident_key_of(event)
    if not key:
        return NotificationEvent.objects.filter(pk=event.pk)
    stamp = key.rsplit("-", 1)[1].rstrip("Z")
    same_incident = Q(incident_key=key) | Q(dedup_key__startswith=f"expiry:{event.certificate_id}:{stamp}.")
    return NotificationEvent.objects.filter(
        Q(pk=event.pk)
        | (Q(certificate_id=event.certificate_id, type=NotificationType.EXPIRATION_WARNING) & same_incident)
    )


@dataclass(frozen=True)
class Acknowledgement:
    """The outcome of `acknowledge`: the row (refreshed), and whether this call acknowledged it (False: already)."""

    event: NotificationEvent
    acknowledged_now: bool
    rows: int


def acknowledge(
    event_or_id: NotificationEvent | str,
    *,
    actor: str,
    actor_type: str,
    via: str,
    now: datetime | None = None,
) -> Acknowledgement:
    """Acknowledge an alert and every row of its incident; stop their escalation. Audited once.

    Idempotent: acknowledging an acknowledged alert changes nothing and answers with the first acknowledgement
    (who and when), so a second click or retry is not an error. Raises NotificationEvent.DoesNotExist.
    """
    if via not in VIA:
        raise ValueError(f"via must be one of {', '.join(VIA)}")
    now = now or timezone.now()
    event_id = event_or_id.pk if isinstance(event_or_id, NotificationEvent) else event_or_id
    with transaction.atomic():
        event = NotificationEvent.objects.select_for_update().get(pk=event_id)
        if event.acknowledged_at is not None:
            return Acknowledgement(event, acknowledged_now=False, rows=0)
        by = " ".join(actor.split())[:255] or "unknown"
        rows = (
            incident_rows(event)
            .filter(acknowledged_at__isnull=True)
            .update(acknowledged_at=now, acknowledged_by=by, escalation_due_at=None, updated_at=now)
        )
        record(
            "notification_acknowledged",
            resource_type="notification",
            resource_id=event.pk,
            actor=by,
            actor_type=actor_type,
            details={
                "via": via,
                "certificate_id": event.certificate_id,
                "incident": incident_key_of(event),
                "rows_acknowledged": rows,
                "escalation_step": event.escalation_step,
            },
            now=now,
        )
    event.refresh_from_db()
    return Acknowledgement(event, acknowledged_now=True, rows=rows)


class LinkExpired(Exception):
    """The link's signature is valid but older than CERTCTL_ACK_LINK_MAX_AGE (answered with 410)."""


class LinkInvalid(Exception):
    """The token is malformed or not signed by this installation (answered with 400)."""


def event_for_token(token: str) -> NotificationEvent | None:
    """The notification a link token names (None when it no longer exists); raises LinkExpired or LinkInvalid."""
    try:
        event_id = signing.loads(token, salt=LINK_SALT, max_age=settings.NOTIFICATION_ACK_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(event_id, str):
        raise LinkInvalid
    return NotificationEvent.objects.filter(pk=event_id).first()
