"""The expiry check over PostgreSQL: which alerts it creates, to whom, and how it deduplicates."""

from datetime import timedelta

import pytest

from audit.models import AuditEvent
from certctl.kernel import counters
from certificates.expiry.services.check import check_expiring_certificates
from notifications.models import NotificationEvent
from tests.expiry_helpers import FANOUT, NOW, alerts_per_channel, cert_expiring_in, policy

pytestmark = pytest.mark.django_db


def test_default_matrix_sends_the_owner_one_email_for_the_most_urgent_fired_threshold():
    cert = cert_expiring_in(timedelta(days=5, hours=3))

    result = check_expiring_certificates(now=NOW)

    # First seen at 5 days, 30, 14 and 7 have all fired: one message, for 7 (the others are implied).
    rows = NotificationEvent.objects.filter(certificate=cert)
    assert [(r.channel, r.threshold_days, r.severity_tier) for r in rows] == [("Email", 7, "warning")]
    row = rows.get()
    assert row.recipient == cert.owner.email
    assert row.status == "pending"
    assert row.type == "ExpirationWarning"
    assert (row.destination_id, row.destination_name) == ("dest-env-email", "Email (environment)")
    assert result.created == {"Email": 1}


def test_fanout_matrix_at_zero_days_gives_each_destination_its_most_urgent_threshold():
    cert = cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))

    check_expiring_certificates(now=NOW)

    assert alerts_per_channel(cert) == {"Slack": 1, "Email": 1, "PagerDuty": 1, "OpsGenie": 1}
    # Slack is not on the critical route: its most urgent fired threshold is 7 (warning).
    assert NotificationEvent.objects.get(certificate=cert, channel="Slack").threshold_days == 7
    assert not NotificationEvent.objects.filter(channel__in=["Teams", "Webhook"]).exists()
    critical = NotificationEvent.objects.filter(certificate=cert, threshold_days=0)
    assert {(r.channel, r.severity_tier) for r in critical} == {
        ("PagerDuty", "critical"),
        ("OpsGenie", "critical"),
        ("Email", "critical"),
    }
    assert critical.get(channel="PagerDuty").recipient == "PagerDuty"


def test_second_run_deduplicates_every_channel_and_threshold():
    cert = cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))
    check_expiring_certificates(now=NOW)

    second = check_expiring_certificates(now=NOW + timedelta(hours=1))

    assert sum(second.created.values()) == 0
    assert second.deduped == 4
    assert alerts_per_channel(cert) == {"Slack": 1, "Email": 1, "PagerDuty": 1, "OpsGenie": 1}
    assert AuditEvent.objects.filter(action="expiration_alert_sent").count() == 4


def test_next_threshold_fires_as_time_passes_without_repeating_earlier_ones():
    cert = cert_expiring_in(timedelta(days=20))
    check_expiring_certificates(now=NOW)
    assert list(
        NotificationEvent.objects.filter(certificate=cert).values_list("threshold_days", flat=True)
    ) == [30]

    check_expiring_certificates(now=NOW + timedelta(days=7))

    thresholds = sorted(
        NotificationEvent.objects.filter(certificate=cert).values_list("threshold_days", flat=True)
    )
    assert thresholds == [14, 30]


def test_renewal_with_a_new_expiry_re_arms_the_thresholds():
    cert = cert_expiring_in(timedelta(days=5))
    check_expiring_certificates(now=NOW)
    assert alerts_per_channel(cert) == {"Email": 1}

    cert.expires_at = NOW + timedelta(days=365)
    cert.status = "Active"
    cert.save()
    check_expiring_certificates(now=NOW + timedelta(days=1))
    assert alerts_per_channel(cert) == {"Email": 1}

    check_expiring_certificates(now=NOW + timedelta(days=360))
    assert alerts_per_channel(cert) == {"Email": 2}


def test_off_enum_channel_is_dropped_and_audited_while_valid_channels_still_fire():
    bad = policy(alert_thresholds_days=[7])
    type(bad).objects.filter(pk=bad.pk).update(alert_channels={"warning": ["Slack", "CarrierPigeon"]})
    cert = cert_expiring_in(timedelta(days=3), bad)

    result = check_expiring_certificates(now=NOW)

    assert alerts_per_channel(cert) == {"Slack": 1}
    skipped = AuditEvent.objects.get(action="expiration_alert_skipped_invalid_channel")
    assert skipped.resource_id == cert.id
    assert skipped.details == {
        "threshold_days": 7,
        "days_until_expiry": 3,
        "severity_tier": "warning",
        "invalid_channel": "CarrierPigeon",
    }
    assert result.skipped_invalid_channel == 1


def test_tier_left_out_of_a_configured_matrix_sends_nothing_and_is_audited():
    opted_out = policy(alert_channels={"critical": ["PagerDuty"]})
    cert = cert_expiring_in(timedelta(days=10), opted_out)

    result = check_expiring_certificates(now=NOW)

    assert not NotificationEvent.objects.filter(certificate=cert).exists()
    skipped = AuditEvent.objects.filter(action="expiration_alert_skipped_no_channels", resource_id=cert.id)
    assert sorted((e.details["threshold_days"], e.details["severity_tier"]) for e in skipped) == [
        (14, "warning"),
        (30, "informational"),
    ]
    assert result.skipped_no_channels == 2


def test_policy_without_a_matrix_falls_back_to_the_default_email_routing():
    no_matrix = policy(alert_channels={}, alert_severity_map={}, alert_thresholds_days=[21, 3])
    cert = cert_expiring_in(timedelta(days=2), no_matrix)

    check_expiring_certificates(now=NOW)

    rows = NotificationEvent.objects.filter(certificate=cert)
    assert sorted((r.threshold_days, r.channel, r.severity_tier) for r in rows) == [
        (3, "Email", "informational"),
    ]


def test_every_created_alert_is_audited_with_threshold_days_left_channel_and_tier():
    cert = cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))

    check_expiring_certificates(now=NOW)

    sent = AuditEvent.objects.filter(action="expiration_alert_sent", resource_id=cert.id)
    assert sent.count() == 4
    details = {(e.details["threshold_days"], e.details["channel"]) for e in sent}
    assert (0, "PagerDuty") in details
    one = sent.get(details__threshold_days=0, details__channel="PagerDuty")
    assert one.actor == "system"
    assert one.details["days_until_expiry"] == 0
    assert one.details["severity_tier"] == "critical"
    assert NotificationEvent.objects.filter(pk=one.details["notification_id"], channel="PagerDuty").exists()


def test_metric_counts_success_then_deduped_per_channel_and_threshold():
    cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))
    check_expiring_certificates(now=NOW)
    check_expiring_certificates(now=NOW + timedelta(hours=1))

    series = counters.read("certctl_expiry_alerts_total")

    def value(channel, threshold, result):
        return series.get((("channel", channel), ("result", result), ("threshold", threshold)), 0)

    assert value("Slack", "7", "success") == 1
    assert value("Slack", "7", "deduped") == 1
    assert value("Slack", "30", "success") == 0
    assert value("PagerDuty", "0", "success") == 1
    assert value("Email", "0", "deduped") == 1
    assert sum(n for key, n in series.items() if ("result", "success") in key) == 4
    assert sum(n for key, n in series.items() if ("result", "deduped") in key) == 4


def test_metric_counts_an_off_enum_channel_as_failure():
    bad = policy(alert_thresholds_days=[7])
    type(bad).objects.filter(pk=bad.pk).update(alert_channels={"warning": ["Fax"]})
    cert_expiring_in(timedelta(days=3), bad)

    check_expiring_certificates(now=NOW)

    assert counters.read("certctl_expiry_alerts_total") == {
        (("channel", "Fax"), ("result", "failure"), ("threshold", "7")): 1
    }


def test_metric_is_exposed_on_the_metrics_endpoint(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))
    check_expiring_certificates(now=NOW)
    check_expiring_certificates(now=NOW)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert "# TYPE certctl_expiry_alerts_total counter" in text
    assert 'certctl_expiry_alerts_total{channel="PagerDuty",result="success",threshold="0"} 1.0' in text
    assert 'certctl_expiry_alerts_total{channel="Slack",result="deduped",threshold="7"} 1.0' in text


def test_an_expired_certificate_is_alerted_as_critical_even_if_its_policy_says_informational():
    lenient = policy(alert_thresholds_days=[0], alert_severity_map={"0": "informational"})
    cert = cert_expiring_in(-timedelta(hours=3), lenient)

    check_expiring_certificates(now=NOW)

    row = NotificationEvent.objects.get(certificate=cert)
    assert row.severity_tier == "critical"
    assert row.threshold_days == -1  # the EXPIRED alert
    assert row.subject.startswith("[certctl] critical: ") and "has EXPIRED" in row.subject
