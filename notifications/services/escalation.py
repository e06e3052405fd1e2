"""Escalation of unacknowledged critical alerts to the next step of the certificate's renewal policy.

A critical alert whose policy escalates carries `escalation_due_at`. When it comes and nobody has acknowledged the
incident, the sweep writes one copy of the alert per destination of the next step (`escalation_step` = n,
`escalated_from` = the alert) and moves the due time on by `escalation_after_minutes`, or clears it after the last
step. One chain per incident: the earliest unacknowledged alert of the incident carries it, the others drop theirs.
Rows are claimed with `select_for_update(skip_locked=True)` and each copy has a unique dedup key
(`escalation:<alert id>:<step>:<destination token>`), so two workers never escalate the same step twice.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services.record import record
from notifications.models import NotificationEvent
from notifications.services import fanout
from notifications.services.acknowledge import incident_key_of, incident_rows

logger = logging.getLogger(__name__)

# Read through the certificate FK as plain values: notifications may not import certificates.enums.
CLOSED_CERTIFICATE_STATUSES = ("Revoked", "Archived")


def escalate_due(now: datetime | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Send every due, unacknowledged critical alert to its policy's next escalation step.

    Returns counts: `escalated` (incidents moved one step), `notifications` (copies written), `finished`
    (chains that ended: last step sent, policy no longer escalates, certificate renewed, revoked or archived).
    """
    now = now or timezone.now()
    size = batch_size or settings.NOTIFICATION_BATCH_SIZE
    result: Counter = Counter()
    while True:
        with transaction.atomic():
            due = list(
                NotificationEvent.objects.filter(
                    escalation_due_at__isnull=False, escalation_due_at__lte=now, acknowledged_at__isnull=True
                )
                .select_related("certificate__renewal_policy", "certificate__owner")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("escalation_due_at", "id")[:size]
            )
            incidents: dict[str, list[NotificationEvent]] = defaultdict(list)
            for event in due:
                incidents[incident_key_of(event) or event.pk].append(event)
            for claimed in incidents.values():
                _escalate_incident(claimed, now, result)
        # Every claimed row now has no due time or one in the future: the next batch holds other rows.
        if len(due) < size:
            break
    summary = {name: result[name] for name in ("escalated", "notifications", "finished")}
    if summary["escalated"] or summary["finished"]:
        logger.info("escalation sweep finished", extra={"summary": summary})
    return summary


def _escalate_incident(claimed: list[NotificationEvent], now: datetime, result: Counter) -> None:
    # The chain's carrier is chosen from every row of the incident, so workers holding different rows agree on it.
    carrier_id = (
        incident_rows(claimed[0])
        .filter(escalation_step=0, escalation_due_at__isnull=False, acknowledged_at__isnull=True)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
        .first()
    )
    alert = next((event for event in claimed if event.pk == carrier_id), None)
    if alert is None and carrier_id is None:
        alert = min(claimed, key=lambda event: (event.created_at, event.pk))
    # The other rows join the carrier's chain (if another worker holds the carrier, it escalates it).
    joined = [event.pk for event in claimed if alert is None or event.pk != alert.pk]
    if joined:
        NotificationEvent.objects.filter(pk__in=joined).update(escalation_due_at=None, updated_at=now)
    if alert is None:
        return
    next_due = _escalate(alert, now, result)
    NotificationEvent.objects.filter(pk=alert.pk).update(escalation_due_at=next_due, updated_at=now)
    if next_due is None:
        result["finished"] += 1


def _escalate(alert: NotificationEvent, now: datetime, result: Counter) -> datetime | None:
    """Write the next step's copies of `alert`; return when the step after it is due (None: the chain ends)."""
    certificate = alert.certificate
    policy = certificate.renewal_policy if certificate is not None else None
    steps = policy.escalation_steps if policy is not None else None
    after = policy.escalation_after_minutes if policy is not None else None
    incident = incident_key_of(alert)
    if not (isinstance(steps, list) and steps and after) or _incident_closed(certificate, incident):
        return None
    sent = NotificationEvent.objects.filter(escalated_from=alert).aggregate(last=Max("escalation_step"))
    done = sent["last"] or 0
    skipped: list[dict[str, str]] = []
    # A step none of whose destinations can be used is passed over: the next one is tried at once.
    for step in range(done + 1, len(steps) + 1):
        refs = steps[step - 1] if isinstance(steps[step - 1], list) else []
        resolved = fanout.resolve(refs)
        skipped += [{**skip, "step": str(step)} for skip in resolved.skipped]
        if not resolved.destinations:
            continue
        copies = [
            fanout.row_for(
                destination,
                type=alert.type,
                certificate_id=alert.certificate_id,
                recipient=fanout.recipient_for(destination, certificate.owner.email),
                subject=_subject(alert.subject, step),
                message=_message(alert, step, len(steps)),
                severity_tier=alert.severity_tier,
                threshold_days=alert.threshold_days,
                dedup_key=f"escalation:{alert.pk}:{step}:{fanout.token_of(destination)}",
                incident_key=incident,
                escalation_step=step,
                escalated_from=alert,
            )
            for destination in resolved.destinations
        ]
        created = fanout.write_once(copies)
        record(
            "notification_escalated",
            resource_type="notification",
            resource_id=alert.pk,
            details={
                "step": step,
                "steps": len(steps),
                "certificate_id": alert.certificate_id,
                "incident": incident,
                "destinations": [destination.pk for destination in resolved.destinations],
                "notifications": [copy.pk for copy in created],
                "skipped": skipped,
            },
            now=now,
        )
        result["escalated"] += 1
        result["notifications"] += len(created)
        return now + timedelta(minutes=after) if step < len(steps) else None
    if skipped:
        logger.warning(
            "escalation found no usable destination",
            extra={"event_id": alert.pk, "certificate_id": alert.certificate_id, "skipped": skipped},
        )
    return None


def _incident_closed(certificate, incident: str) -> bool:
    """Renewed since (its expiry is no longer the incident's), revoked or archived: nothing left to escalate."""
    if certificate.status in CLOSED_CERTIFICATE_STATUSES or certificate.expires_at is None:
        return True
    if not incident:
        return False
    return certificate.expires_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") != incident.rsplit("-", 1)[1]


def _subject(subject: str, step: int) -> str:
    """`[certctl] Escalation 2: critical: ...` (the tag stays first, so email does not add it twice)."""
    tag = "[certctl] "
    if subject.startswith(tag):
        return f"{tag}Escalation {step}: {subject[len(tag) :]}"[:255]
    return f"Escalation {step}: {subject}"[:255]


def _message(alert: NotificationEvent, step: int, steps: int) -> str:
    sent = alert.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Escalation {step} of {steps}: nobody has acknowledged this critical alert, first sent {sent}.\n"
        "Acknowledging it stops the escalation.\n\n"
        f"{alert.message}"
    )
