"""Claiming a discovered certificate: a new managed certificate with its version, or a link to an existing one;
conflicts, bad ids, and nothing half-written when it fails."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection

from audit.models import AuditEvent
from certctl.kernel.crypto import decrypt_bytes
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint, DiscoveryStatus
from certificates.discovery.services.claim import ClaimConflict, NewManaged, claim
from certificates.discovery.services.record import Place
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.models import ServerGeneratedKey
from tests.certificates.discovery.inventory_support import NOW, Pki, imported, issue, net, seen
from tests.factories import (
    AgentFactory,
    CertificateFactory,
    IssuerFactory,
    OwnerFactory,
    RenewalPolicyFactory,
    TargetFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/discovery/certificates"


@pytest.fixture
def refs():
    owner = OwnerFactory()
    return {
        "owner_id": owner.pk,
        "team_id": owner.team_id,
        "renewal_policy_id": RenewalPolicyFactory(renewal_window_days=30).pk,
        "issuer_id": IssuerFactory().pk,
    }


def post_claim(client, certificate, body):
    return client.post(f"{URL}/{certificate.pk}/claim", body, format="json")


def test_claim_creates_a_managed_certificate_with_its_version(client_with_key, refs):
    pki = Pki()
    leaf = pki.leaf("shop.example", sans=["shop.example", "www.shop.example"], days=200)
    found = seen(leaf, net(443, "shop.example"))
    DiscoveredCertificate.objects.filter(pk=found.pk).update(chain_pem=pki.intermediate.pem.decode())

    response = post_claim(client_with_key, found, {**refs, "environment": "prod"})

    assert response.status_code == 201, response.content
    body = response.json()
    managed = ManagedCertificate.objects.get(pk=body["id"])
    assert (managed.name, managed.common_name, managed.sans) == (
        "shop.example",
        "shop.example",
        ["shop.example", "www.shop.example"],
    )
    assert (managed.status, managed.source, managed.environment) == ("Active", "Discovery", "prod")
    assert managed.expires_at == found.not_after
    assert (managed.owner_id, managed.team_id, managed.issuer_id) == (
        refs["owner_id"],
        refs["team_id"],
        refs["issuer_id"],
    )
    version = CertificateVersion.objects.get(certificate=managed)
    assert version.fingerprint_sha256 == found.fingerprint_sha256
    assert version.serial_number == found.serial_number and version.not_after == found.not_after
    assert version.pem_chain == found.pem + pki.intermediate.pem.decode()
    assert (version.key_algorithm, version.key_size) == ("ECDSA", 256)

    found.refresh_from_db()
    assert (found.status, found.managed_certificate_id) == ("Managed", managed.pk)
    assert body["claim"]["created"] is True and body["claim"]["discovered_certificate_id"] == found.pk
    assert [e["sni"] for e in body["claim"]["endpoints"]] == ["shop.example"]
    claimed = AuditEvent.objects.get(action="discovered_certificate_claimed", resource_id=found.pk)
    assert claimed.details["managed_certificate_id"] == managed.pk and claimed.details["created"] is True
    assert AuditEvent.objects.filter(action="certificate_created", resource_id=managed.pk).exists()


@pytest.mark.parametrize(
    ("days", "status"),
    [(200, "Active"), (20, "Expiring"), (-1, "Expired")],
    ids=["active", "expiring", "expired"],
)
def test_status_follows_the_expiry_and_the_policy_window(client_with_key, refs, days, status):
    start = NOW - dt.timedelta(days=30)
    found = seen(issue(f"s{days}.example", not_before=start, days=30 + days), net(443, f"s{days}.example"))
    body = post_claim(client_with_key, found, refs).json()
    assert body["status"] == status


def test_a_name_is_made_unique_and_an_import_is_sourced_as_import(client_with_key, refs):
    CertificateFactory(name="vault.internal")
    found = imported(issue("vault.internal"))
    body = post_claim(client_with_key, found, refs).json()
    assert (body["name"], body["source"]) == ("vault.internal-2", "Import")
    named = post_claim(client_with_key, imported(issue("other.internal")), {**refs, "name": "my-name"}).json()
    assert named["name"] == "my-name"


def test_an_imported_private_key_becomes_the_versions_server_key(admin_client_with_key, refs):
    leaf = issue("keyed.example")
    found = imported(leaf, with_key=True)
    body = post_claim(admin_client_with_key, found, refs).json()
    assert body["claim"]["private_key_stored"] is True
    server_key = ServerGeneratedKey.objects.get(version__certificate_id=body["id"])
    key = serialization.load_pem_private_key(decrypt_bytes(server_key.encrypted_private_key), password=None)
    assert key.public_key().public_numbers() == leaf.cert.public_key().public_numbers()
    found.refresh_from_db()
    assert found.has_private_key and found.encrypted_private_key == ""
    exported = admin_client_with_key.get(f"/api/v1/certificates/{body['id']}/export/pem?include_key=true")
    assert "PRIVATE KEY" in exported.json()["private_key_pem"]


def test_claim_sets_the_target_of_the_endpoints_it_matches(client_with_key, refs):
    agent = AgentFactory()
    file_target = TargetFactory(agent=agent, name="nginx-main")
    web_target = TargetFactory(name="shop.example")
    leaf = Pki().leaf("shop.example")
    seen(leaf, net(443, "shop.example"))
    found = seen(leaf, Place(kind="agent", agent=agent, hostname="h", path="/etc/nginx/shop.pem"))

    body = post_claim(client_with_key, found, {**refs, "target_ids": [file_target.pk, web_target.pk]}).json()

    assert {e["target_id"] for e in body["claim"]["endpoints"]} == {file_target.pk, web_target.pk}
    assert set(body["target_ids"]) == {file_target.pk, web_target.pk}
    assert set(DiscoveryEndpoint.objects.values_list("target_id", flat=True)) == {
        file_target.pk,
        web_target.pk,
    }


def test_link_to_an_existing_managed_certificate_and_repeat_it(client_with_key):
    existing = CertificateFactory()
    found = seen(Pki().leaf("legacy.example"), net(443))
    linked = post_claim(client_with_key, found, {"managed_certificate_id": existing.pk})
    assert linked.status_code == 200 and linked.json()["id"] == existing.pk
    assert linked.json()["claim"]["created"] is False
    found.refresh_from_db()
    assert (found.status, found.managed_certificate_id) == ("Managed", existing.pk)
    assert not CertificateVersion.objects.filter(certificate=existing).exists()

    again = post_claim(client_with_key, found, {"managed_certificate_id": existing.pk})
    assert again.status_code == 200 and again.json()["id"] == existing.pk
    assert (
        AuditEvent.objects.filter(action="discovered_certificate_claimed", resource_id=found.pk).count() == 1
    )


def test_claiming_a_claimed_certificate_again_is_a_409(client_with_key, refs):
    found = seen(Pki().leaf("twice.example"), net(443))
    assert post_claim(client_with_key, found, refs).status_code == 201
    again = post_claim(client_with_key, found, refs)
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    other = post_claim(client_with_key, found, {"managed_certificate_id": CertificateFactory().pk})
    assert other.status_code == 409
    assert ManagedCertificate.objects.filter(source="Discovery").count() == 1


def test_bad_bodies_and_ids(client_with_key, refs):
    found = seen(Pki().leaf("bad.example"), net(443))
    missing = post_claim(client_with_key, found, {"owner_id": refs["owner_id"]})
    assert missing.status_code == 400
    assert {"team_id", "renewal_policy_id", "issuer_id"} <= set(missing.json()["fields"])
    unknown = post_claim(client_with_key, found, {**refs, "issuer_id": "iss-nope"})
    assert unknown.status_code == 400 and "issuer_id" in unknown.json()["fields"]
    mixed = post_claim(
        client_with_key, found, {"managed_certificate_id": CertificateFactory().pk, "name": "x"}
    )
    assert mixed.status_code == 400
    assert post_claim(client_with_key, found, {"managed_certificate_id": "cert-nope"}).status_code == 400
    assert client_with_key.post(f"{URL}/dcert-nope/claim", refs, format="json").status_code == 404
    found.refresh_from_db()
    assert found.status == "Unmanaged" and not ManagedCertificate.objects.filter(source="Discovery").exists()


def test_nothing_is_half_written_when_the_version_cannot_be_stored(refs):
    """A version with this fingerprint appears between the discovery and the claim: the claim refuses, and
    neither a managed certificate nor a claim is left behind."""
    found = seen(Pki().leaf("race.example"), net(443))
    other = CertificateFactory()
    CertificateVersion.objects.create(
        certificate=other,
        serial_number="01",
        not_before=found.not_before,
        not_after=found.not_after,
        fingerprint_sha256=found.fingerprint_sha256,
        pem_chain=found.pem,
    )
    new = NewManaged(
        owner=other.owner,
        team=other.team,
        renewal_policy=other.renewal_policy,
        issuer=other.issuer,
        name="race",
    )
    with pytest.raises(ClaimConflict):
        claim(found, new=new)
    found.refresh_from_db()
    assert found.status == "Unmanaged"
    assert not ManagedCertificate.objects.filter(name="race").exists()
    assert not AuditEvent.objects.filter(action="discovered_certificate_claimed").exists()


def test_a_failure_inside_the_claim_rolls_everything_back(refs, monkeypatch):
    from certificates.discovery.services import claim as claim_module

    found = imported(issue("boom.example"), with_key=True)
    owner = OwnerFactory()
    new = NewManaged(
        owner=owner,
        team=owner.team,
        renewal_policy=RenewalPolicyFactory(),
        issuer=IssuerFactory(),
        name="boom",
    )

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(claim_module, "_match_targets", broken)
    with pytest.raises(RuntimeError):
        claim(found, new=new)
    found.refresh_from_db()
    assert found.status == "Unmanaged" and found.encrypted_private_key
    assert not ManagedCertificate.objects.exists() and not CertificateVersion.objects.exists()
    assert not ServerGeneratedKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_create_one_managed_certificate():
    found = seen(Pki().leaf("both.example"), net(443))
    owner = OwnerFactory()
    policy, issuer = RenewalPolicyFactory(), IssuerFactory()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            claim(
                found,
                new=NewManaged(owner=owner, team=owner.team, renewal_policy=policy, issuer=issuer, name=name),
            )
            outcomes.append("claimed")
        except ClaimConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"both-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed", "conflict"]
    assert ManagedCertificate.objects.count() == 1
    assert DiscoveredCertificate.objects.get(pk=found.pk).status == DiscoveryStatus.MANAGED
