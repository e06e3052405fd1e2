"""Escalation: an unacknowledged critical alert goes to the policy's next step after N minutes, step by step."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from audit.models import AuditEvent
from certificates.enums import CertificateStatus
from notifications.channels.targets import write_secrets
from notifications.enums import Channel, NotificationStatus
from notifications.models import Destination, NotificationEvent
from notifications.services.acknowledge import acknowledge
from notifications.services.delivery import process_pending
from notifications.services.escalation import escalate_due
from tests.factories import CertificateFactory, RenewalPolicyFactory
from tests.notifications.critical_alerts import critical_alert, incident_key
from tests.sinks import point_channels_at

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def certificate(db):
    policy = RenewalPolicyFactory(escalation_after_minutes=30, escalation_steps=[["Slack"], ["Webhook"]])
    return CertificateFactory(renewal_policy=policy, expires_at=T0 + timedelta(hours=12))


@pytest.fixture
def channels(settings, http_sink, smtp_sink):
    point_channels_at(settings, http_sink, smtp_sink)
    return http_sink


def _sweep(at: datetime) -> dict[str, int]:
    """One escalation sweep at `at`, then the pending sweep delivers what it wrote to the sinks."""
    with time_machine.travel(at, tick=False):
        result = escalate_due()
        process_pending(min_age_seconds=0)
    return result


@pytest.mark.django_db
def test_unacknowledged_alert_goes_to_step_one_then_step_two_then_stops(certificate, channels):
    alert = critical_alert(certificate, escalation_due_at=T0 + timedelta(minutes=30))

    assert _sweep(T0 + timedelta(minutes=29))["escalated"] == 0
    assert _sweep(T0 + timedelta(minutes=30))["escalated"] == 1
    step1 = NotificationEvent.objects.get(escalated_from=alert, escalation_step=1)
    assert (step1.channel, step1.destination_id, step1.status) == (
        Channel.SLACK,
        "dest-env-slack",
        NotificationStatus.SENT,
    )
    assert step1.subject.startswith("[certctl] Escalation 1: critical: certificate")
    assert step1.dedup_key == f"escalation:{alert.id}:1:Slack"
    assert step1.incident_key == incident_key(certificate)
    assert "Escalation 1 of 2" in step1.message and step1.escalation_due_at is None
    assert channels.count("/slack") == 1
    alert.refresh_from_db()
    assert alert.escalation_due_at == T0 + timedelta(minutes=60)

    assert _sweep(T0 + timedelta(minutes=45))["escalated"] == 0
    assert _sweep(T0 + timedelta(minutes=60)) == {
        "escalated": 1,
        "notifications": 1,
        "finished": 1,
    }
    step2 = NotificationEvent.objects.get(escalated_from=alert, escalation_step=2)
    assert (step2.channel, step2.status) == (Channel.WEBHOOK, NotificationStatus.SENT)
    assert channels.received("/webhook")[0].json()["subject"].startswith("[certctl] Escalation 2:")
    alert.refresh_from_db()
    assert alert.escalation_due_at is None

    assert _sweep(T0 + timedelta(days=1))["escalated"] == 0
    assert NotificationEvent.objects.filter(escalated_from=alert).count() == 2
    audits = AuditEvent.objects.filter(action="notification_escalated", resource_id=alert.id)
    assert sorted(a.details["step"] for a in audits) == [1, 2]


@pytest.mark.django_db
def test_an_acknowledged_alert_is_not_escalated(certificate, channels):
    alert = critical_alert(certificate, escalation_due_at=T0 + timedelta(minutes=30))
    _sweep(T0 + timedelta(minutes=30))
    acknowledge(alert.id, actor="alice", actor_type="User", via="api")

    assert _sweep(T0 + timedelta(minutes=60))["escalated"] == 0
    alert.refresh_from_db()
    assert alert.escalation_due_at is None
    assert not NotificationEvent.objects.filter(escalation_step=2).exists()
    assert channels.count("/webhook") == 0


@pytest.mark.django_db
def test_an_incident_sent_to_several_destinations_escalates_once(certificate, channels):
    due = T0 + timedelta(minutes=30)
    email = critical_alert(certificate, escalation_due_at=due)
    pagerduty = critical_alert(certificate, channel=Channel.PAGERDUTY, escalation_due_at=due)

    escalate_due(now=due)

    assert NotificationEvent.objects.filter(escalation_step=1).count() == 1
    carrier = NotificationEvent.objects.get(escalation_step=1).escalated_from_id
    assert carrier == min(email, pagerduty, key=lambda e: (e.created_at, e.id)).id
    dues = dict(NotificationEvent.objects.filter(escalation_step=0).values_list("id", "escalation_due_at"))
    assert dues == {carrier: due + timedelta(minutes=30), ({email.id, pagerduty.id} - {carrier}).pop(): None}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_escalate_each_step_once(certificate, channels):
    due = T0 + timedelta(minutes=30)
    for channel in (Channel.EMAIL, Channel.PAGERDUTY, Channel.OPSGENIE):
        critical_alert(certificate, channel=channel, escalation_due_at=due)
    start = threading.Barrier(2)
    results: list[dict] = []

    def sweep() -> None:
        try:
            start.wait()
            results.append(escalate_due(now=due, batch_size=1))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(result["notifications"] for result in results) == 1
    assert NotificationEvent.objects.filter(escalation_step=1).count() == 1
    assert NotificationEvent.objects.filter(escalation_due_at__isnull=False).count() == 1
    assert AuditEvent.objects.filter(action="notification_escalated").count() == 1


@pytest.mark.django_db
def test_steps_name_destinations_by_id_or_name_and_skip_disabled_ones(certificate, channels):
    lead = Destination(name="team-lead-slack", kind="slack")
    write_secrets(lead, {"webhook_url": channels.url_for("/slack/lead")})
    lead.save()
    off = Destination.objects.create(name="old-pager", kind="webhook", enabled=False)
    certificate.renewal_policy.escalation_steps = [["team-lead-slack", off.id, lead.id, "Email"]]
    certificate.renewal_policy.save()
    alert = critical_alert(certificate, channel=Channel.SLACK, escalation_due_at=T0)

    escalate_due(now=T0)

    copies = NotificationEvent.objects.filter(escalated_from=alert).order_by("channel")
    assert [(c.channel, c.destination_id, c.recipient) for c in copies] == [
        (Channel.EMAIL, "dest-env-email", certificate.owner.email),
        (Channel.SLACK, lead.id, "team-lead-slack"),
    ]
    assert copies[1].dedup_key == f"escalation:{alert.id}:1:{lead.id}"
    audit = AuditEvent.objects.get(action="notification_escalated")
    assert audit.details["skipped"] == [{"destination": off.id, "reason": "disabled", "step": "1"}]


@pytest.mark.django_db
def test_a_step_with_no_usable_destination_is_passed_over(certificate, channels, settings):
    settings.SLACK_WEBHOOK_URL = ""  # step 1 (Slack) cannot be sent
    alert = critical_alert(certificate, escalation_due_at=T0)

    escalate_due(now=T0)

    assert list(
        NotificationEvent.objects.filter(escalated_from=alert).values_list("escalation_step", "channel")
    ) == [(2, Channel.WEBHOOK)]


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["renewed", "revoked", "no_policy_escalation"])
def test_escalation_stops_when_the_incident_is_over(certificate, channels, change):
    alert = critical_alert(certificate, escalation_due_at=T0)
    if change == "renewed":
        certificate.expires_at = T0 + timedelta(days=90)
        certificate.save()
    elif change == "revoked":
        certificate.status = CertificateStatus.REVOKED
        certificate.save()
    else:
        certificate.renewal_policy.escalation_after_minutes = None
        certificate.renewal_policy.save()

    assert escalate_due(now=T0) == {"escalated": 0, "notifications": 0, "finished": 1}
    alert.refresh_from_db()
    assert alert.escalation_due_at is None
    assert not NotificationEvent.objects.filter(escalated_from=alert).exists()
