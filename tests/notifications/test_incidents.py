"""PagerDuty/OpsGenie incidents: one per certificate and expiry, raised by later thresholds, resolved through
the outbox when the certificate is renewed, revoked or archived."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certificates.inventory.services.certificates import archive_certificate
from certificates.issuance.services.issuance import issue_from_csr
from certificates.revocation.services.revoke import revoke_certificate
from notifications.channels.targets import write_secrets
from notifications.enums import Channel, DestinationKind, NotificationStatus, NotificationType, SeverityTier
from notifications.models import Destination, NotificationEvent
from notifications.services.delivery import process_pending
from notifications.services.incidents import incident_key, resolve_incidents
from notifications.services.outbox import enqueue
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of
from tests.sinks import OPSGENIE_API_KEY, PAGERDUTY_ROUTING_KEY, point_channels_at

pytestmark = pytest.mark.django_db

TEAM_OPSGENIE_KEY = "team-opsgenie-key-secret-42"


@pytest.fixture
def sinks(settings, http_sink, smtp_sink):
    point_channels_at(settings, http_sink, smtp_sink)
    return http_sink


@pytest.fixture
def team_opsgenie(http_sink) -> Destination:
    destination = Destination(
        name="Payments OpsGenie",
        kind=DestinationKind.OPSGENIE,
        config={"api_url": http_sink.url_for("/team-opsgenie/v2/alerts")},
    )
    write_secrets(destination, {"api_key": TEAM_OPSGENIE_KEY})
    destination.save()
    return destination


@pytest.fixture
def certificate(db):
    cert = issuable_certificate(make_root(), name="shop")
    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    cert.refresh_from_db()
    process_pending(min_age_seconds=0)  # its RenewalSuccess email
    return cert


def _trigger(cert, channel, *, threshold, tier, destination: Destination | None = None):
    """An expiry alert as the expiry check writes it for one destination."""
    dest_id = destination.pk if destination else f"dest-env-{channel.lower()}"
    dest_name = destination.name if destination else f"{channel} (environment)"
    return enqueue(
        type=NotificationType.EXPIRATION_WARNING,
        channel=channel,
        message=f"{cert.name} expires soon",
        subject=f"[certctl] {tier}: certificate {cert.name} expires in {threshold} days",
        certificate_id=cert.pk,
        severity_tier=tier,
        threshold_days=threshold,
        dedup_key=f"expiry:{cert.pk}:{cert.expires_at:%Y%m%d}:{threshold}:{dest_id}",
        destination_id=dest_id,
        destination_name=dest_name,
        incident_key=incident_key(cert.pk, cert.expires_at),
    )


def _sent_triggers(cert, team_opsgenie):
    _trigger(cert, Channel.PAGERDUTY, threshold=14, tier=SeverityTier.WARNING)
    _trigger(cert, Channel.OPSGENIE, threshold=14, tier=SeverityTier.WARNING, destination=team_opsgenie)
    assert process_pending(min_age_seconds=0).sent == 2


def _assert_resolved(http_sink, cert, expires_at, reason):
    key = incident_key(cert.pk, expires_at)
    process_pending(min_age_seconds=0)  # the resolves, and the change's own notices
    resolve = http_sink.received("/pagerduty")[-1]
    assert resolve.json() == {
        "routing_key": PAGERDUTY_ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": key,
    }
    close = http_sink.received("/team-opsgenie")[-1]
    assert close.path == f"/team-opsgenie/v2/alerts/{key}/close?identifierType=alias"
    assert close.headers["Authorization"] == f"GenieKey {TEAM_OPSGENIE_KEY}"
    assert close.json() == {
        "source": "certctl",
        "user": "certctl",
        "note": f"Certificate shop ({cert.pk}) was {reason}; its expiry alert is resolved.",
    }
    rows = NotificationEvent.objects.filter(type=NotificationType.INCIDENT_RESOLVED)
    assert {(row.channel, row.status, row.incident_key) for row in rows} == {
        (Channel.PAGERDUTY, NotificationStatus.SENT, key),
        (Channel.OPSGENIE, NotificationStatus.SENT, key),
    }


def test_the_incident_key_names_the_certificate_and_its_expiry():
    expires = datetime(2026, 7, 1, 12, 30, 5, tzinfo=UTC)
    assert incident_key("cert-abc", expires) == "certctl-cert-abc-20260701T123005Z"


def test_a_later_threshold_updates_the_same_incident_with_a_higher_severity(
    sinks, certificate, team_opsgenie
):
    _trigger(certificate, Channel.PAGERDUTY, threshold=14, tier=SeverityTier.WARNING)
    _trigger(
        certificate, Channel.OPSGENIE, threshold=14, tier=SeverityTier.WARNING, destination=team_opsgenie
    )
    process_pending(min_age_seconds=0)
    _trigger(certificate, Channel.PAGERDUTY, threshold=0, tier=SeverityTier.CRITICAL)
    _trigger(
        certificate, Channel.OPSGENIE, threshold=0, tier=SeverityTier.CRITICAL, destination=team_opsgenie
    )
    process_pending(min_age_seconds=0)

    key = incident_key(certificate.pk, certificate.expires_at)
    first, second = (r.json() for r in sinks.received("/pagerduty"))
    assert first["dedup_key"] == second["dedup_key"] == key
    assert (first["payload"]["severity"], second["payload"]["severity"]) == ("warning", "critical")
    first, second = (r.json() for r in sinks.received("/team-opsgenie"))
    assert first["alias"] == second["alias"] == key
    assert (first["priority"], second["priority"]) == ("P3", "P1")


def test_a_renewal_resolves_the_pagerduty_incident_and_closes_the_opsgenie_alert(
    sinks, certificate, team_opsgenie
):
    old_expiry = certificate.expires_at
    _sent_triggers(certificate, team_opsgenie)

    issue_from_csr(certificate, make_csr(names_of(certificate))[0], actor="alice")

    _assert_resolved(sinks, certificate, old_expiry, "renewed")


def test_a_revocation_resolves_the_incidents(sinks, certificate, team_opsgenie):
    _sent_triggers(certificate, team_opsgenie)
    revoke_certificate(certificate.pk, "keyCompromise", actor="alice")
    _assert_resolved(sinks, certificate, certificate.expires_at, "revoked")


def test_archiving_resolves_the_incidents(sinks, certificate, team_opsgenie):
    _sent_triggers(certificate, team_opsgenie)
    assert archive_certificate(certificate, actor="alice", actor_type="User")
    _assert_resolved(sinks, certificate, certificate.expires_at, "archived")


def test_nothing_is_resolved_when_nothing_was_triggered(sinks, certificate):
    _trigger(certificate, Channel.SLACK, threshold=14, tier=SeverityTier.WARNING)
    process_pending(min_age_seconds=0)

    issue_from_csr(certificate, make_csr(names_of(certificate))[0], actor="alice")

    assert not NotificationEvent.objects.filter(type=NotificationType.INCIDENT_RESOLVED).exists()
    assert sinks.count("/pagerduty") == 0 and sinks.count("/opsgenie") == 0


def test_an_incident_is_resolved_once_per_destination(sinks, certificate, team_opsgenie):
    _sent_triggers(certificate, team_opsgenie)
    _trigger(certificate, Channel.PAGERDUTY, threshold=7, tier=SeverityTier.WARNING)
    process_pending(min_age_seconds=0)

    assert resolve_incidents(certificate.pk, reason="renewed", name="shop") == 2
    assert resolve_incidents(certificate.pk, reason="renewed", name="shop") == 0
    assert NotificationEvent.objects.filter(type=NotificationType.INCIDENT_RESOLVED).count() == 2


def test_a_trigger_not_yet_sent_is_held_back_and_escalation_stops(sinks, certificate):
    pending = _trigger(certificate, Channel.PAGERDUTY, threshold=0, tier=SeverityTier.CRITICAL)
    NotificationEvent.objects.filter(pk=pending.pk).update(escalation_due_at=datetime(2030, 1, 1, tzinfo=UTC))

    resolve_incidents(certificate.pk, reason="renewed", name="shop")

    pending.refresh_from_db()
    assert pending.status == NotificationStatus.DEAD
    assert pending.last_error == "not sent: the incident was resolved (certificate renewed)"
    assert pending.escalation_due_at is None
    # The resolve still goes out: a failed attempt may have reached PagerDuty.
    process_pending(min_age_seconds=0)
    (request,) = sinks.received("/pagerduty")
    assert request.json()["event_action"] == "resolve"


def test_a_failed_resolve_is_retried_like_any_delivery(sinks, certificate, team_opsgenie):
    _sent_triggers(certificate, team_opsgenie)
    sinks.respond(503, path="/pagerduty", body=f"busy {PAGERDUTY_ROUTING_KEY} {OPSGENIE_API_KEY}")

    resolve_incidents(certificate.pk, reason="renewed", name="shop")
    process_pending(min_age_seconds=0)

    resolve = NotificationEvent.objects.get(
        type=NotificationType.INCIDENT_RESOLVED, channel=Channel.PAGERDUTY
    )
    assert resolve.status == NotificationStatus.FAILED and resolve.next_retry_at is not None
    assert PAGERDUTY_ROUTING_KEY not in resolve.last_error and OPSGENIE_API_KEY not in resolve.last_error
    pagerduty = Destination.objects.get(pk="dest-env-pagerduty")
    assert pagerduty.last_delivery_status == "failed"
    assert PAGERDUTY_ROUTING_KEY not in pagerduty.last_delivery_error
