"""A changed certificate at a known endpoint: flagged, and when a managed certificate was replaced by one that is
not a version of it, its owner and team are told through the outbox (once)."""

from __future__ import annotations

import datetime as dt

import pytest

from certctl.kernel.certificate_facts import read_facts
from certificates.inventory.models import CertificateVersion
from notifications.models import Destination, NotificationEvent
from tests.certificates.discovery.inventory_support import NOW, Pki, net, seen
from tests.factories import CertificateFactory

pytestmark = pytest.mark.django_db


def as_version(managed, issued) -> None:
    facts = read_facts(issued.cert)
    CertificateVersion.objects.create(
        certificate=managed,
        serial_number=facts.serial_number,
        not_before=facts.not_before,
        not_after=facts.not_after,
        fingerprint_sha256=facts.fingerprint_sha256,
        pem_chain=facts.pem,
    )


def test_a_managed_certificate_replaced_by_a_stranger_alerts_owner_and_team():
    pki = Pki()
    managed = CertificateFactory(name="shop-web")
    team_slack = Destination.objects.create(name="team-slack", kind="slack", team=managed.team)
    ours, stranger = pki.leaf("shop.example"), pki.leaf("shop.example")
    as_version(managed, ours)
    first = seen(ours, net(443, "shop.example"))
    assert first.status == "Managed" and first.managed_certificate_id == managed.pk

    replaced = seen(stranger, net(443, "shop.example"), at=NOW + dt.timedelta(hours=1))
    rows = NotificationEvent.objects.filter(certificate=managed, type="DeploymentFailure")
    assert sorted((r.channel, r.recipient) for r in rows) == [
        ("Email", managed.owner.email),
        ("Slack", "team-slack"),
    ]
    assert all("shop-web was replaced at shop.example:443" in r.subject for r in rows)
    assert all(replaced.fingerprint_sha256 in r.message for r in rows)
    assert rows.get(channel="Slack").destination_id == team_slack.pk

    seen(stranger, net(443, "shop.example"), at=NOW + dt.timedelta(hours=2))  # same again: no new change
    assert NotificationEvent.objects.filter(type="DeploymentFailure").count() == 2


def test_a_renewal_of_the_same_managed_certificate_is_flagged_but_not_alerted():
    pki = Pki()
    managed = CertificateFactory()
    old, new = pki.leaf("api.example"), pki.leaf("api.example")
    as_version(managed, old)
    as_version(managed, new)
    seen(old, net(443, "api.example"))
    seen(new, net(443, "api.example"), at=NOW + dt.timedelta(hours=1))
    assert not NotificationEvent.objects.exists()


def test_an_unmanaged_certificate_replaced_is_only_flagged():
    pki = Pki()
    seen(pki.leaf("x.example"), net(443))
    seen(pki.leaf("x.example"), net(443), at=NOW + dt.timedelta(hours=1))
    assert not NotificationEvent.objects.exists()
