"""One message per certificate and destination per run (the most urgent fired threshold), the EXPIRED alert,
quiet hours, incidents and escalation on the rows the check writes."""

from datetime import UTC, datetime, time, timedelta

import pytest

from certificates.expiry.services.check import check_expiring_certificates
from notifications.models import NotificationEvent
from tests.expiry_helpers import FANOUT, NOW, cert_expiring_in, policy
from tests.factories import OwnerFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_several_thresholds_fired_at_once_give_one_message_per_destination_not_two_with_one_headline():
    # The demo's duplicate: first seen at 5 days, 14 and 7 (both warning, both to Slack and Email) fired in one
    # run, and since the headline says "expires in 5 days" whatever the threshold, two identical messages went.
    cert = cert_expiring_in(timedelta(days=5, hours=1), policy(alert_channels=FANOUT))

    check_expiring_certificates(now=NOW)

    rows = NotificationEvent.objects.filter(certificate=cert)
    assert sorted((r.channel, r.threshold_days) for r in rows) == [("Email", 7), ("Slack", 7)]
    headlines = [(r.destination_name, r.subject) for r in rows]
    assert len(headlines) == len(set(headlines))


def test_a_less_urgent_threshold_is_not_sent_after_a_more_urgent_one():
    cert = cert_expiring_in(timedelta(days=5, hours=1))
    check_expiring_certificates(now=NOW)

    again = check_expiring_certificates(now=NOW + timedelta(hours=2))

    assert again.deduped == 1 and sum(again.created.values()) == 0
    assert list(
        NotificationEvent.objects.filter(certificate=cert).values_list("threshold_days", flat=True)
    ) == [7]


def test_an_expired_certificate_gets_its_own_critical_expired_alert_after_the_zero_day_one():
    cert = cert_expiring_in(timedelta(hours=3), policy(alert_channels=FANOUT))
    check_expiring_certificates(now=NOW)
    assert NotificationEvent.objects.get(certificate=cert, channel="PagerDuty").threshold_days == 0

    check_expiring_certificates(now=NOW + timedelta(hours=4))

    expired = NotificationEvent.objects.filter(certificate=cert, threshold_days=-1)
    assert sorted(expired.values_list("channel", flat=True)) == ["Email", "OpsGenie", "PagerDuty"]
    assert {r.severity_tier for r in expired} == {"critical"}
    assert all("has EXPIRED" in r.subject and "Severity: critical (expired)" in r.message for r in expired)
    # Once, not every run.
    assert sum(check_expiring_certificates(now=NOW + timedelta(hours=5)).created.values()) == 0


def test_rows_of_one_incident_share_its_key_and_critical_ones_escalate():
    escalating = policy(
        alert_channels=FANOUT, escalation_after_minutes=15, escalation_steps=[["Email"], ["OpsGenie"]]
    )
    cert = cert_expiring_in(timedelta(hours=3), escalating)

    check_expiring_certificates(now=NOW)

    rows = {r.channel: r for r in NotificationEvent.objects.filter(certificate=cert)}
    stamp = cert.expires_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert {r.incident_key for r in rows.values()} == {f"certctl-{cert.id}-{stamp}"}
    assert rows["PagerDuty"].escalation_due_at == NOW + timedelta(minutes=15)
    assert rows["Slack"].escalation_due_at is None  # warning: never escalated


def test_non_critical_alert_in_berlin_quiet_hours_is_deferred_to_seven_local_and_critical_goes_now():
    team = TeamFactory(quiet_hours_start=time(22), quiet_hours_end=time(7), timezone="Europe/Berlin")
    owner = OwnerFactory(team=team)
    night = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 in Berlin (CEST)
    warned = cert_expiring_in(night - NOW + timedelta(days=5), owner=owner, team=team)
    critical = cert_expiring_in(night - NOW + timedelta(hours=5), owner=owner, team=team)

    result = check_expiring_certificates(now=night)

    held = NotificationEvent.objects.get(certificate=warned)
    assert (held.status, held.deferred_until) == ("deferred", datetime(2026, 6, 2, 5, 0, tzinfo=UTC))
    now_row = NotificationEvent.objects.get(certificate=critical)
    assert (now_row.status, now_row.deferred_until) == ("pending", None)
    assert result.deferred == 1
