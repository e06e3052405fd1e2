"""Daily digest per team: once a local day, after the team's digest hour, listing what expires within its horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from certificates.enums import CertificateStatus
from notifications.channels.targets import write_secrets
from notifications.enums import NotificationStatus, NotificationType
from notifications.models import Destination, NotificationEvent
from notifications.services import digest
from notifications.services.delivery import process_pending
from notifications.services.digest import send_due_digests
from tests.factories import CertificateFactory, OwnerFactory, TeamFactory
from tests.sinks import SLACK_TOKEN_PATH, point_channels_at

pytestmark = pytest.mark.django_db

# Berlin is UTC+2 in summer: 08:00 local is 06:00 UTC.
BERLIN_8AM = datetime(2025, 7, 14, 6, 0, tzinfo=UTC)


@pytest.fixture
def team(db):
    return TeamFactory(name="payments", timezone="Europe/Berlin", digest_enabled=True, digest_hour=8)


@pytest.fixture
def slack(team, settings, http_sink):
    point_channels_at(settings, http_sink)
    destination = Destination(name="payments-slack", kind="slack", team=team)
    write_secrets(destination, {"webhook_url": http_sink.url_for(SLACK_TOKEN_PATH)})
    destination.save()
    return destination


def _cert(team, name: str, expires_at: datetime, **fields):
    return CertificateFactory(name=name, owner=OwnerFactory(team=team), expires_at=expires_at, **fields)


def _digests():
    return NotificationEvent.objects.filter(type=NotificationType.EXPIRY_DIGEST)


def _run(at: datetime) -> dict[str, int]:
    with time_machine.travel(at, tick=False):
        result = send_due_digests()
        process_pending(min_age_seconds=0)
    return result


def test_digest_goes_out_once_after_the_local_digest_hour(team, slack, http_sink):
    _cert(team, "shop", BERLIN_8AM + timedelta(days=3))

    assert _run(BERLIN_8AM - timedelta(minutes=1))["sent"] == 0  # 07:59 in Berlin
    assert _run(BERLIN_8AM)["sent"] == 1
    assert _run(BERLIN_8AM + timedelta(hours=5))["sent"] == 0  # same local day

    row = _digests().get()
    assert (row.destination_id, row.status, row.severity_tier) == (
        slack.id,
        NotificationStatus.SENT,
        "informational",
    )
    assert row.dedup_key == f"digest:{team.id}:2025-07-14:{slack.id}"
    assert http_sink.count("/slack") == 1
    assert "Daily digest for team payments" in http_sink.received("/slack")[0].body.decode()

    assert _run(BERLIN_8AM + timedelta(days=1))["sent"] == 1  # the next local day
    assert _digests().count() == 2


def test_digest_lists_the_teams_expiring_and_expired_certificates_by_expiry(team, slack):
    _cert(team, "later", BERLIN_8AM + timedelta(days=20, hours=1))
    _cert(team, "expired", BERLIN_8AM - timedelta(days=2, hours=1), status=CertificateStatus.EXPIRED)
    _cert(team, "soon", BERLIN_8AM + timedelta(days=1, hours=1))
    _cert(team, "beyond-horizon", BERLIN_8AM + timedelta(days=45))
    _cert(team, "archived", BERLIN_8AM + timedelta(days=5), status=CertificateStatus.ARCHIVED)
    _cert(team, "revoked", BERLIN_8AM + timedelta(days=5), status=CertificateStatus.REVOKED)
    _cert(TeamFactory(), "other-team", BERLIN_8AM + timedelta(days=5))

    _run(BERLIN_8AM)

    row = _digests().get()
    assert row.subject == (
        "[certctl] Daily digest for team payments: 3 certificates expire within 30 days, 1 already expired"
    )
    listed = [line for line in row.message.splitlines() if line.startswith("- ")]
    assert [line.split(" ")[1] for line in listed] == ["expired", "soon", "later"]
    assert "EXPIRED 2 days ago" in listed[0]
    assert "1 day left" in listed[1] and "20 days left" in listed[2]
    assert "expires 2025-07-15 07:00 UTC" in listed[1]


def test_long_listings_are_capped(team, slack, monkeypatch):
    monkeypatch.setattr(digest, "MAX_LINES", 2)
    for n in range(5):
        _cert(team, f"c{n}", BERLIN_8AM + timedelta(days=n + 1))
    _run(BERLIN_8AM)
    message = _digests().get().message
    assert sum(line.startswith("- ") for line in message.splitlines()) == 2
    assert "... and 3 more" in message


def test_no_digest_without_digest_enabled_or_with_nothing_to_list(team, slack):
    quiet_team = TeamFactory(timezone="Europe/Berlin", digest_enabled=False)
    Destination.objects.create(name="quiet-webhook", kind="webhook", team=quiet_team)
    _cert(quiet_team, "quiet-shop", BERLIN_8AM + timedelta(days=3))

    result = _run(BERLIN_8AM)

    assert (result["sent"], result["empty"]) == (0, 1)  # payments has nothing expiring
    assert not _digests().exists()


def test_paging_critical_only_and_disabled_destinations_get_no_digest(team, slack):
    Destination.objects.create(name="payments-pd", kind="pagerduty", team=team)
    Destination.objects.create(name="payments-critical", kind="webhook", team=team, tiers=["critical"])
    Destination.objects.create(name="payments-off", kind="webhook", team=team, enabled=False)
    _cert(team, "shop", BERLIN_8AM + timedelta(days=3))

    _run(BERLIN_8AM)

    assert list(_digests().values_list("destination_name", flat=True)) == ["payments-slack"]
