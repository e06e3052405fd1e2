"""Expiry alerts delivered through the real channels (loopback sinks): one failing channel never stops the others."""

from datetime import timedelta

import pytest
import time_machine

from certificates.expiry.services.check import check_expiring_certificates
from notifications.models import NotificationEvent
from notifications.services import delivery
from tests.expiry_helpers import FANOUT, NOW, cert_expiring_in, policy
from tests.sinks import PAGERDUTY_ROUTING_KEY, point_channels_at

pytestmark = pytest.mark.django_db(transaction=True)


def _statuses(cert) -> dict[tuple[str, int], str]:
    rows = NotificationEvent.objects.filter(certificate=cert)
    return {(r.channel, r.threshold_days): r.status for r in rows}


def test_pagerduty_503_does_not_stop_slack_and_email_and_its_alert_retries_later(
    settings, http_sink, smtp_sink
):
    point_channels_at(settings, http_sink, smtp_sink)
    http_sink.respond(503, path="/pagerduty", times=1)
    cert = cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))

    with time_machine.travel(NOW, tick=False) as clock:
        check_expiring_certificates(now=NOW)

        assert http_sink.count("/slack") == 1
        assert http_sink.count("/opsgenie") == 1
        assert http_sink.count("/pagerduty") == 1
        assert len(smtp_sink.messages) == 1
        assert {m["To"] for m in smtp_sink.messages} == {cert.owner.email}
        statuses = _statuses(cert)
        assert statuses.pop(("PagerDuty", 0)) == "failed"
        assert set(statuses.values()) == {"sent"}

        paged = NotificationEvent.objects.get(certificate=cert, channel="PagerDuty")
        assert paged.retry_count == 1
        assert paged.next_retry_at == NOW + timedelta(minutes=1)
        assert "503" in paged.last_error
        assert PAGERDUTY_ROUTING_KEY not in paged.last_error

        clock.move_to(paged.next_retry_at)
        delivery.retry_due()

    paged.refresh_from_db()
    assert paged.status == "sent"
    assert http_sink.count("/pagerduty") == 2
    body = http_sink.received("/pagerduty")[-1].json()
    assert cert.name in body["payload"]["summary"] or cert.name in str(body["payload"])


def test_email_alert_carries_the_certificate_details_and_admin_link(settings, http_sink, smtp_sink):
    point_channels_at(settings, http_sink, smtp_sink)
    settings.PUBLIC_URL = "https://certctl.example.test"
    cert = cert_expiring_in(timedelta(days=3, hours=2), policy(alert_thresholds_days=[7]))

    with time_machine.travel(NOW, tick=False):
        check_expiring_certificates(now=NOW)

    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert cert.common_name in text
    assert "Days left: 3" in text
    assert f"https://certctl.example.test/admin/certificates/managedcertificate/{cert.id}/change/" in text
    assert cert.name in message["Subject"]


def test_unconfigured_email_does_not_stop_a_configured_pagerduty(settings, http_sink):
    point_channels_at(settings, http_sink)
    settings.SMTP_HOST = ""
    cert = cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT))

    with time_machine.travel(NOW, tick=False):
        check_expiring_certificates(now=NOW)

    statuses = _statuses(cert)
    assert statuses[("PagerDuty", 0)] == "sent"
    assert statuses[("OpsGenie", 0)] == "sent"
    assert statuses[("Slack", 7)] == "sent"
    assert http_sink.count("/pagerduty") == 1
    # Unconfigured Email still gets its row (the most urgent threshold), dead with the reason, requeueable.
    assert [(key, status) for key, status in statuses.items() if key[0] == "Email"] == [
        (("Email", 0), "dead")
    ]


def test_dead_alert_is_not_recreated_by_the_next_check_and_an_operator_requeue_delivers_it(
    settings, http_sink, smtp_sink, client_with_key
):
    point_channels_at(settings, http_sink)
    settings.SMTP_HOST = ""
    cert = cert_expiring_in(timedelta(days=3), policy(alert_thresholds_days=[7]))

    with time_machine.travel(NOW, tick=False):
        check_expiring_certificates(now=NOW)
        dead = NotificationEvent.objects.get(certificate=cert, channel="Email")
        assert dead.status == "dead"

        again = check_expiring_certificates(now=NOW + timedelta(hours=1))
        assert again.deduped == 1 and sum(again.created.values()) == 0
        assert NotificationEvent.objects.filter(certificate=cert).count() == 1

        point_channels_at(settings, http_sink, smtp_sink)
        response = client_with_key.post(
            "/api/v1/notifications/requeue", {"status": "dead", "channel": "Email"}, format="json"
        )

    assert response.status_code == 200
    assert response.json()["ids"] == [dead.id]
    dead.refresh_from_db()
    assert dead.status == "sent"
    assert [m["To"] for m in smtp_sink.messages] == [cert.owner.email]
