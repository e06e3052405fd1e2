"""The discovered inventory in the admin: filters, the certificate page (sightings and endpoints), the Claim…,
Dismiss… and Restore actions, owner/team edits, and the endpoints' Acknowledge action."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from audit.models import AuditEvent
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint, DiscoverySighting
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from tests.certificates.discovery.inventory_support import NOW, Pki, imported, issue, net, seen
from tests.factories import CertificateFactory, IssuerFactory, OwnerFactory, RenewalPolicyFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:certificates_discoveredcertificate_changelist")


def act(client, action: str, rows, **fields):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [row.pk for row in rows], **fields}
    return client.post(CHANGELIST, data, follow=True)


@pytest.fixture
def found():
    pki = Pki()
    good = seen(pki.leaf("shop.example", days=200), net(443, "shop.example"))
    weak = seen(issue("old.example", key_kind="rsa1024", hash_name="sha1", days=5), net(8443))
    return pki, good, weak


def test_changelist_filters_and_search(admin_client, found):
    pki, good, _ = found
    imported(issue("vault.internal"))
    seen(pki.leaf("shop.example"), net(443, "shop.example"), at=NOW + dt.timedelta(hours=1))
    for query, expected in [
        ({"is_weak__exact": "1"}, ["old.example"]),
        ({"is_self_signed__exact": "1"}, ["old.example", "vault.internal"]),
        ({"status__exact": "Unmanaged"}, None),
        ({"expiry": "30"}, ["old.example"]),
        ({"source": "import"}, ["vault.internal"]),
        ({"changed": "yes"}, ["shop.example"]),
        ({"q": "old.exa"}, ["old.example"]),
        ({"q": good.fingerprint_sha256}, ["shop.example"]),
    ]:
        response = admin_client.get(CHANGELIST, query)
        assert response.status_code == 200, query
        names = sorted(row.common_name for row in response.context["cl"].result_list)
        if expected is not None:
            assert names == expected, query


def test_certificate_page_shows_sightings_and_endpoints(admin_client, found):
    _, good, _ = found
    page = admin_client.get(reverse("admin:certificates_discoveredcertificate_change", args=[good.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Sightings" in html and "shop.example:443" in html and "Endpoints serving it now" in html
    keyed = imported(issue("keyed.example"), with_key=True)
    keyed.refresh_from_db()
    assert keyed.encrypted_private_key
    html = admin_client.get(
        reverse("admin:certificates_discoveredcertificate_change", args=[keyed.pk])
    ).content.decode()
    assert "PRIVATE KEY" not in html and keyed.encrypted_private_key[:20] not in html


def test_claim_action_asks_then_creates_a_managed_certificate(admin_client, found):
    _, good, _ = found
    form = act(admin_client, "claim_selected", [good])
    assert form.status_code == 200 and b"Claim certificates" in form.content
    owner = OwnerFactory()
    done = act(
        admin_client,
        "claim_selected",
        [good],
        apply="1",
        owner=owner.pk,
        team=owner.team_id,
        renewal_policy=RenewalPolicyFactory().pk,
        issuer=IssuerFactory().pk,
    )
    assert b"Claimed 1" in done.content
    good.refresh_from_db()
    managed = ManagedCertificate.objects.get(pk=good.managed_certificate_id)
    assert managed.source == "Discovery" and CertificateVersion.objects.filter(certificate=managed).exists()
    assert AuditEvent.objects.filter(action="discovered_certificate_claimed", actor="admin").exists()


def test_claim_action_links_to_an_existing_one_and_refuses_missing_fields(admin_client, found):
    _, good, weak = found
    incomplete = act(admin_client, "claim_selected", [weak], apply="1", owner=OwnerFactory().pk)
    assert b"Required to create a managed certificate" in incomplete.content
    existing = CertificateFactory()
    act(admin_client, "claim_selected", [good], apply="1", managed_certificate=existing.pk)
    good.refresh_from_db()
    assert (good.status, good.managed_certificate_id) == ("Managed", existing.pk)
    again = act(
        admin_client, "claim_selected", [good], apply="1", managed_certificate=CertificateFactory().pk
    )
    assert b"Not claimed" in again.content


def test_dismiss_and_restore_actions(admin_client, found):
    _, _, weak = found
    assert b"Dismiss certificates" in act(admin_client, "dismiss_selected", [weak]).content
    act(admin_client, "dismiss_selected", [weak], apply="1", reason="test rig")
    weak.refresh_from_db()
    assert (weak.status, weak.dismissed_reason, weak.dismissed_by) == ("Dismissed", "test rig", "admin")
    act(admin_client, "restore_selected", [weak])
    weak.refresh_from_db()
    assert weak.status == "Unmanaged"


def test_owner_and_team_are_edited_through_the_service(admin_client, found):
    _, good, _ = found
    owner = OwnerFactory()
    url = reverse("admin:certificates_discoveredcertificate_change", args=[good.pk])
    response = admin_client.post(url, {"owner": owner.pk, "team": owner.team_id}, follow=True)
    assert response.status_code == 200
    good.refresh_from_db()
    assert (good.owner_id, good.team_id) == (owner.pk, owner.team_id)
    assert AuditEvent.objects.filter(action="discovered_certificate_updated", resource_id=good.pk).exists()


def test_endpoint_admin_filters_changed_and_acknowledges(admin_client, found):
    pki, _, _ = found
    seen(pki.leaf("shop.example"), net(443, "shop.example"), at=NOW + dt.timedelta(hours=1))
    url = reverse("admin:certificates_discoveryendpoint_changelist")
    changed = admin_client.get(url, {"changed": "yes"}).context["cl"].result_list
    (endpoint,) = list(changed)
    response = admin_client.post(
        url, {"action": "acknowledge_selected", helpers.ACTION_CHECKBOX_NAME: [endpoint.pk]}, follow=True
    )
    assert b"Acknowledged 1" in response.content
    assert DiscoveryEndpoint.objects.get(pk=endpoint.pk).change_acknowledged_at is not None
    assert list(admin_client.get(url, {"changed": "yes"}).context["cl"].result_list) == []
    page = admin_client.get(reverse("admin:certificates_discoveryendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200


def test_sighting_pages_are_read_only(admin_client, found):
    sighting = DiscoverySighting.objects.first()
    assert admin_client.get(reverse("admin:certificates_discoverysighting_changelist")).status_code == 200
    assert (
        admin_client.get(
            reverse("admin:certificates_discoverysighting_change", args=[sighting.pk])
        ).status_code
        == 200
    )
    assert admin_client.get(reverse("admin:certificates_discoverysighting_add")).status_code == 403
    assert DiscoveredCertificate.objects.count() == 2


def test_the_certificate_page_lists_its_open_violations_most_severe_first(admin_client, found):
    from certificates.compliance.services.evaluate import evaluate_discovered

    _, good, weak = found
    evaluate_discovered([weak.pk, good.pk])
    page = admin_client.get(reverse("admin:certificates_discoveredcertificate_change", args=[weak.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "Open violations" in html
    # Critical (SHA-1) before Error (RSA-1024) before Warning (self-signed)
    assert (
        html.index(">No SHA-1 or MD5 signatures<")
        < html.index(">Minimum key size<")
        < html.index(">Self-signed</a>")
    )
    clean = admin_client.get(reverse("admin:certificates_discoveredcertificate_change", args=[good.pk]))
    assert "Minimum key size" not in clean.content.decode()
