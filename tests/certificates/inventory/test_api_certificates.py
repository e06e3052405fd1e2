from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from certificates.inventory.models import ManagedCertificate
from tests.factories import (
    CertificateFactory,
    IssuerFactory,
    OwnerFactory,
    RenewalPolicyFactory,
    TargetFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def refs():
    owner = OwnerFactory()
    return {
        "owner_id": owner.id,
        "team_id": owner.team_id,
        "issuer_id": IssuerFactory().id,
        "renewal_policy_id": RenewalPolicyFactory().id,
    }


def test_creating_a_certificate_returns_201_and_audits_it(client_with_key, refs):
    target = TargetFactory()
    body = {
        "name": "shop-web",
        "common_name": "shop.example.test",
        "sans": ["www.shop.example.test"],
        "environment": "production",
        "target_ids": [target.id],
        **refs,
    }
    response = client_with_key.post("/api/v1/certificates", body, format="json")
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("cert-")
    assert created["status"] == "Pending"
    assert created["source"] == "API"
    assert created["target_ids"] == [target.id]
    assert created["created_at"].endswith("Z")
    event = AuditEvent.objects.get(action="certificate_created")
    assert (event.resource_id, event.actor, event.actor_type) == (created["id"], "automation", "User")


@pytest.mark.parametrize(
    "missing", ["name", "common_name", "owner_id", "team_id", "issuer_id", "renewal_policy_id"]
)
def test_required_fields_are_named_in_the_400(client_with_key, refs, missing):
    body = {"name": "n", "common_name": "n.example.test", **refs}
    del body[missing]
    response = client_with_key.post("/api/v1/certificates", body, format="json")
    assert response.status_code == 400
    assert missing in response.json()["fields"]


@pytest.mark.parametrize(
    "cn", ["192.0.2.7", "2001:db8::1", "*.example.test", "pki@example.test", "a.b-c.test"]
)
def test_common_name_may_be_a_hostname_ip_or_email(client_with_key, refs, cn):
    response = client_with_key.post(
        "/api/v1/certificates", {"name": "n", "common_name": cn, **refs}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("cn", ["not a host", "-bad.example.test", "a" * 254, "", "x@", "exa mple@test"])
def test_bad_common_names_are_refused(client_with_key, refs, cn):
    response = client_with_key.post(
        "/api/v1/certificates", {"name": "n", "common_name": cn, **refs}, format="json"
    )
    assert response.status_code == 400
    assert "common_name" in response.json()["fields"]


@pytest.mark.parametrize("sans", ["a.example.test", [1, 2], [{"dns": "x"}]])
def test_sans_must_be_a_list_of_strings(client_with_key, refs, sans):
    body = {"name": "n", "common_name": "n.example.test", "sans": sans, **refs}
    response = client_with_key.post("/api/v1/certificates", body, format="json")
    assert response.status_code == 400
    assert "sans" in response.json()["fields"]


def test_duplicate_certificate_name_is_a_409(client_with_key, refs):
    CertificateFactory(name="dup")
    response = client_with_key.post(
        "/api/v1/certificates", {"name": "dup", "common_name": "d.example.test", **refs}, format="json"
    )
    assert response.status_code == 409


def test_a_certificate_cannot_be_created_revoked(client_with_key, refs):
    body = {"name": "n", "common_name": "n.example.test", "status": "Revoked", **refs}
    assert client_with_key.post("/api/v1/certificates", body, format="json").status_code == 400


def test_partial_update_records_the_status_change(client_with_key):
    cert = CertificateFactory(status="Active", environment="staging")
    response = client_with_key.put(f"/api/v1/certificates/{cert.id}", {"status": "Expiring"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "Expiring"
    assert response.json()["environment"] == "staging"
    event = AuditEvent.objects.get(action="certificate_updated")
    assert event.details["status"] == "Active -> Expiring"
    assert event.details["changed"] == ["status"]


def test_update_can_replace_the_target_mapping(client_with_key):
    cert = CertificateFactory()
    first, second = TargetFactory(), TargetFactory()
    cert.targets.set([first])
    response = client_with_key.patch(
        f"/api/v1/certificates/{cert.id}", {"target_ids": [second.id]}, format="json"
    )
    assert response.json()["target_ids"] == [second.id]
    assert "target_ids" in AuditEvent.objects.get(action="certificate_updated").details["changed"]


def test_update_cannot_revoke(client_with_key):
    cert = CertificateFactory(status="Active")
    response = client_with_key.put(f"/api/v1/certificates/{cert.id}", {"status": "Revoked"}, format="json")
    assert response.status_code == 400
    assert "/revoke" in response.json()["fields"]["status"][0]
    cert.refresh_from_db()
    assert cert.status == "Active"


def test_revocation_fields_are_read_only(client_with_key):
    cert = CertificateFactory()
    client_with_key.put(
        f"/api/v1/certificates/{cert.id}", {"revocation_reason": "keyCompromise"}, format="json"
    )
    cert.refresh_from_db()
    assert cert.revocation_reason == ""


def test_delete_archives_the_certificate_and_audits_it(client_with_key):
    cert = CertificateFactory(status="Active")
    response = client_with_key.delete(f"/api/v1/certificates/{cert.id}")
    assert response.status_code == 204
    cert.refresh_from_db()
    assert cert.status == "Archived"
    event = AuditEvent.objects.get(action="certificate_archived")
    assert event.details == {"status": "Active -> Archived"}
    assert client_with_key.delete(f"/api/v1/certificates/{cert.id}").status_code == 204
    assert AuditEvent.objects.filter(action="certificate_archived").count() == 1


def test_versions_are_paged_newest_first(client_with_key):
    from certificates.inventory.models import CertificateVersion

    cert = CertificateFactory()
    now = timezone.now()
    for i in range(3):
        version = CertificateVersion.objects.create(
            certificate=cert,
            serial_number=f"{i:040x}",
            not_before=now,
            not_after=now + timedelta(days=90),
            fingerprint_sha256=f"{i:064x}",
            pem_chain="-----BEGIN CERTIFICATE-----",
        )
        CertificateVersion.objects.filter(pk=version.pk).update(created_at=now + timedelta(minutes=i))
    body = client_with_key.get(f"/api/v1/certificates/{cert.id}/versions?per_page=2").json()
    assert body["total"] == 3
    assert [v["serial_number"] for v in body["data"]] == [f"{2:040x}", f"{1:040x}"]
    assert body["data"][0]["not_after"].endswith("Z")


def test_versions_of_an_unknown_certificate_is_a_404(client_with_key):
    assert client_with_key.get("/api/v1/certificates/cert-nope/versions").status_code == 404


def test_deployments_lists_the_targets_a_certificate_maps_to(client_with_key):
    cert = CertificateFactory()
    targets = [TargetFactory(name="b-edge"), TargetFactory(name="a-edge")]
    cert.targets.set(targets)
    body = client_with_key.get(f"/api/v1/certificates/{cert.id}/deployments").json()
    assert body["total"] == 2
    assert [t["name"] for t in body["data"]] == ["a-edge", "b-edge"]


def test_bulk_reassign_moves_certificates_and_audits_each(client_with_key):
    certs = [CertificateFactory() for _ in range(3)]
    untouched = CertificateFactory()
    new_owner = OwnerFactory()
    response = client_with_key.post(
        "/api/v1/certificates/bulk-reassign",
        {"certificate_ids": [c.id for c in certs], "owner_id": new_owner.id, "team_id": new_owner.team_id},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"reassigned": 3}
    assert set(
        ManagedCertificate.objects.filter(owner=new_owner, team=new_owner.team_id).values_list(
            "id", flat=True
        )
    ) == {c.id for c in certs}
    untouched.refresh_from_db()
    assert untouched.owner_id != new_owner.id
    events = AuditEvent.objects.filter(action="certificate_updated")
    assert {e.resource_id for e in events} == {c.id for c in certs}
    assert all(e.details["changed"] == ["owner", "team"] for e in events)


def test_bulk_reassign_with_an_unknown_id_changes_nothing(client_with_key):
    cert = CertificateFactory()
    new_owner = OwnerFactory()
    response = client_with_key.post(
        "/api/v1/certificates/bulk-reassign",
        {"certificate_ids": [cert.id, "cert-ghost"], "owner_id": new_owner.id},
        format="json",
    )
    assert response.status_code == 400
    assert "cert-ghost" in response.json()["fields"]["certificate_ids"][0]
    cert.refresh_from_db()
    assert cert.owner_id != new_owner.id


@pytest.mark.parametrize(
    "body",
    [
        {"certificate_ids": [], "owner_id": "x"},
        {"certificate_ids": ["a"]},
        {"certificate_ids": "a", "owner_id": "x"},
    ],
)
def test_bulk_reassign_validates_its_body(client_with_key, body):
    response = client_with_key.post("/api/v1/certificates/bulk-reassign", body, format="json")
    assert response.status_code == 400
