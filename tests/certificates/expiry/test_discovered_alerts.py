"""Expiry alerts for discovered certificates that have an owner or a team: the same routing as managed ones
(owner email, team destinations, defaults), the default thresholds, dedup, and none once claimed or dismissed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from certctl.kernel.certificate_facts import read_facts
from certificates.discovery.models import DiscoveredCertificate, DiscoveryStatus
from certificates.discovery.services.record import Place, record
from certificates.expiry.services.check import check_expiring_certificates
from notifications.channels.targets import write_secrets
from notifications.models import Destination, NotificationEvent
from tests.discovery_support import issue
from tests.expiry_helpers import NOW
from tests.factories import CertificateFactory, OwnerFactory, RenewalPolicyFactory, TeamFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db


def discovered(cn: str, expires_in: timedelta, **fields) -> DiscoveredCertificate:
    """A certificate seen on the network that expires `expires_in` after NOW."""
    start = NOW + expires_in - timedelta(days=90)
    facts = read_facts(issue(cn, not_before=start, days=90).cert)
    found = record(facts, seen_at=NOW, place=Place(kind="network", address="10.0.0.5", port=443, sni=cn))
    DiscoveredCertificate.objects.filter(pk=found.certificate.pk).update(**fields)
    return DiscoveredCertificate.objects.get(pk=found.certificate.pk)


def alerts(certificate: DiscoveredCertificate) -> list[tuple]:
    rows = NotificationEvent.objects.filter(discovered_certificate=certificate).order_by("destination_name")
    return [(r.destination_name or r.channel, r.threshold_days, r.severity_tier, r.recipient) for r in rows]


def team_slack(team, name="team-slack", url="http://127.0.0.1:9/slack/team") -> Destination:
    destination = Destination(name=name, kind="slack", team=team)
    write_secrets(destination, {"webhook_url": url})
    destination.save()
    return destination


def test_a_discovered_certificate_with_a_team_alerts_the_teams_destinations():
    team = TeamFactory(name="Payments")
    slack = team_slack(team)
    Destination.objects.create(name="fallback", kind="slack", is_default=True)
    found = discovered("legacy.example", timedelta(days=5), team=team)

    result = check_expiring_certificates(now=NOW)

    assert alerts(found) == [("team-slack", 7, "warning", "team-slack")]
    row = NotificationEvent.objects.get(discovered_certificate=found)
    assert row.certificate_id is None and row.destination_id == slack.pk
    assert row.dedup_key.startswith(f"expiry:{found.pk}:") and row.dedup_key.endswith(f":7:{slack.pk}")
    assert "legacy.example" in row.subject and "expires in 5 days" in row.subject
    assert f"/admin/certificates/discoveredcertificate/{found.pk}/change/" in row.message
    assert result.scanned == 1 and result.created["Slack"] == 1
    sent = AuditEvent.objects.get(action="expiration_alert_sent", resource_id=found.pk)
    assert sent.resource_type == "discovered_certificate" and sent.details["threshold_days"] == 7


def test_an_owner_gets_email_and_without_team_destinations_the_defaults_are_not_needed():
    owner = OwnerFactory(email="alice@example.test")
    found = discovered("owned.example", timedelta(hours=10), owner=owner)
    check_expiring_certificates(now=NOW)
    assert alerts(found) == [("Email (environment)", 0, "critical", "alice@example.test")]


def test_only_a_team_without_destinations_falls_back_to_the_defaults():
    Destination.objects.create(name="fallback", kind="slack", is_default=True)
    found = discovered("orphan.example", timedelta(days=20), team=TeamFactory())
    check_expiring_certificates(now=NOW)
    assert alerts(found) == [("fallback", 30, "informational", "fallback")]


def test_a_second_run_writes_nothing_and_an_expired_certificate_gets_the_expired_alert():
    team = TeamFactory()
    team_slack(team)
    found = discovered("dedup.example", timedelta(days=3), team=team)
    first = check_expiring_certificates(now=NOW)
    second = check_expiring_certificates(now=NOW + timedelta(hours=1))
    assert sum(first.created.values()) == 1 and sum(second.created.values()) == 0 and second.deduped == 1

    check_expiring_certificates(now=NOW + timedelta(days=4))
    assert [a[1:3] for a in alerts(found)] == [(7, "warning"), (-1, "critical")]


def test_unowned_claimed_dismissed_and_far_certificates_get_no_alerts():
    team = TeamFactory()
    team_slack(team)
    Destination.objects.create(name="fallback", kind="slack", is_default=True)
    discovered("nobody.example", timedelta(days=3))
    discovered("dismissed.example", timedelta(days=3), team=team, status=DiscoveryStatus.DISMISSED)
    managed = CertificateFactory(expires_at=NOW + timedelta(days=300))
    discovered(
        "claimed.example",
        timedelta(days=3),
        team=team,
        status=DiscoveryStatus.MANAGED,
        managed_certificate=managed,
    )
    discovered("later.example", timedelta(days=45), team=team)

    result = check_expiring_certificates(now=NOW)

    assert not NotificationEvent.objects.filter(discovered_certificate__isnull=False).exists()
    assert result.scanned == 0


def test_quiet_hours_defer_a_discovered_warning():
    import datetime as dt

    team = TeamFactory(quiet_hours_start=dt.time(0, 0), quiet_hours_end=dt.time(23, 59), timezone="UTC")
    team_slack(team)
    found = discovered("quiet.example", timedelta(days=5), team=team)
    result = check_expiring_certificates(now=NOW)
    row = NotificationEvent.objects.get(discovered_certificate=found)
    assert row.status == "deferred" and row.deferred_until is not None and result.deferred == 1


def test_discovered_alerts_cost_a_fixed_number_of_statements():
    RenewalPolicyFactory()
    team = TeamFactory()
    team_slack(team)

    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            check_expiring_certificates(now=NOW)
        NotificationEvent.objects.all().delete()
        return len(queries)

    discovered("one.example", timedelta(days=3), team=team)
    one = statements()
    for n in range(8):
        discovered(f"many{n}.example", timedelta(days=3 + n % 3), team=team)
    assert statements() == one


@pytest.mark.django_db(transaction=True)
def test_the_alert_is_delivered_to_the_teams_real_destination(settings, http_sink, smtp_sink):
    point_channels_at(settings, http_sink, smtp_sink)
    team = TeamFactory(name="Payments")
    team_slack(team, url=http_sink.url_for("/slack/payments"))
    owner = OwnerFactory(team=team, email="bob@example.test")
    found = discovered("delivered.example", timedelta(days=2), team=team, owner=owner)

    with time_machine.travel(NOW, tick=False):
        check_expiring_certificates(now=NOW)

    assert http_sink.count("/slack/payments") == 1
    assert "delivered.example" in str(http_sink.received("/slack/payments")[0].json())
    assert [m["To"] for m in smtp_sink.messages] == ["bob@example.test"]
    statuses = set(
        NotificationEvent.objects.filter(discovered_certificate=found).values_list("status", flat=True)
    )
    assert statuses == {"sent"}
