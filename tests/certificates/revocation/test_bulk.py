"""POST /api/v1/certificates/bulk-revoke and the admin action: every match, chunked, with honest totals."""

from __future__ import annotations

import pytest
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from audit.models import AuditEvent
from certificates.enums import CertificateStatus
from certificates.inventory.models import ManagedCertificate
from certificates.revocation.admin import revoke_selected
from certificates.revocation.models import CertificateRevocation
from certificates.revocation.services import revoke as revocation
from notifications.models import NotificationEvent
from tests.factories import CertificateFactory, OwnerFactory, TargetFactory
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db

URL = "/api/v1/certificates/bulk-revoke"


@pytest.fixture
def ca():
    return make_local_ca()


def test_bulk_revoke_needs_an_admin_key(client_with_key, ca):
    response = client_with_key.post(URL, {"reason": "superseded", "issuer_id": ca.issuer.id}, format="json")
    assert response.status_code == 403


def test_at_least_one_criterion_and_a_valid_reason_are_required(admin_client_with_key):
    response = admin_client_with_key.post(URL, {"reason": "superseded"}, format="json")
    assert response.status_code == 400
    assert "at least one criterion" in response.json()["message"]
    response = admin_client_with_key.post(URL, {"reason": "nope", "owner_id": "owner-x"}, format="json")
    assert response.status_code == 400
    assert "keyCompromise" in response.json()["message"]
    # Bulk revocation requires a reason, unlike a single one.
    for missing in ({"owner_id": "owner-x"}, {"reason": None, "owner_id": "owner-x"}):
        response = admin_client_with_key.post(URL, missing, format="json")
        assert response.status_code == 400, missing
        assert "reason" in response.json()["message"]


def test_every_match_is_processed_in_chunks_not_the_first_fifty(admin_client_with_key, ca, monkeypatch):
    monkeypatch.setattr(revocation, "BULK_CHUNK_SIZE", 25)
    owner = OwnerFactory()
    for _ in range(120):
        issue_leaf(ca, owner=owner)
    response = admin_client_with_key.post(
        URL, {"reason": "cessationOfOperation", "owner_id": owner.id}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "total_matched": 120,
        "total_revoked": 120,
        "total_skipped": 0,
        "total_failed": 0,
        "errors": [],
    }
    assert ManagedCertificate.objects.filter(owner=owner, status=CertificateStatus.REVOKED).count() == 120
    assert CertificateRevocation.objects.filter(reason="cessationOfOperation").count() == 120
    assert AuditEvent.objects.filter(action="certificate_revoked").count() == 120
    pending = NotificationEvent.objects.filter(type="Revocation", status="pending", certificate__owner=owner)
    assert sorted(set(pending.values_list("channel", flat=True))) == ["Email", "Webhook"]
    assert pending.count() == 240
    summary = AuditEvent.objects.get(action="bulk_revocation_initiated")
    assert summary.resource_id == "bulk"
    assert summary.details["total_revoked"] == 120
    assert summary.details["owner_id"] == owner.id
    assert summary.details["reason"] == "cessationOfOperation"


def test_revoked_and_archived_are_skipped_and_versionless_fail(admin_client_with_key, ca):
    owner = OwnerFactory()
    live, _, _ = issue_leaf(ca, owner=owner)
    already, _, _ = issue_leaf(ca, owner=owner)
    revocation.revoke_certificate(already.id, "superseded", actor="earlier")
    issue_leaf(ca, owner=owner, status=CertificateStatus.ARCHIVED)
    versionless = CertificateFactory(owner=owner, issuer=ca.issuer)
    body = admin_client_with_key.post(
        URL, {"reason": "keyCompromise", "owner_id": owner.id}, format="json"
    ).json()
    assert body["total_matched"] == 4
    assert body["total_revoked"] == 1
    assert body["total_skipped"] == 2
    assert body["total_failed"] == 1
    assert body["errors"] == [{"certificate_id": versionless.id, "error": "no issued version to revoke"}]
    assert CertificateRevocation.objects.get(certificate=already).reason == "superseded"
    live.refresh_from_db()
    assert live.revocation_reason == "keyCompromise"


def test_criteria_are_combined_with_and(admin_client_with_key, ca):
    owner = OwnerFactory()
    mine, _, _ = issue_leaf(ca, owner=owner)
    other_issuer_cert, _, _ = issue_leaf(make_local_ca("Other CA"), owner=owner)
    issue_leaf(ca)
    body = admin_client_with_key.post(
        URL, {"reason": "superseded", "owner_id": owner.id, "issuer_id": ca.issuer.id}, format="json"
    ).json()
    assert body["total_matched"] == 1
    assert ManagedCertificate.objects.get(pk=mine.id).status == CertificateStatus.REVOKED
    assert ManagedCertificate.objects.get(pk=other_issuer_cert.id).status == CertificateStatus.ACTIVE


def test_certificate_ids_and_agent_criteria(admin_client_with_key, ca):
    target = TargetFactory()
    on_agent, _, _ = issue_leaf(ca)
    on_agent.targets.add(target)
    listed, _, _ = issue_leaf(ca)
    body = admin_client_with_key.post(
        URL, {"reason": "superseded", "agent_id": target.agent_id}, format="json"
    ).json()
    assert body["total_revoked"] == 1
    body = admin_client_with_key.post(
        URL, {"reason": "superseded", "certificate_ids": [listed.id, "cert-unknown"]}, format="json"
    ).json()
    assert (body["total_matched"], body["total_revoked"]) == (1, 1)


def admin_request(rf, data):
    request = rf.post("/admin/certificates/managedcertificate/", data)
    request.user = User.objects.create_superuser("root", "root@example.test", "pw")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_admin_action_asks_for_a_reason_then_revokes(rf, ca):
    certs = [issue_leaf(ca)[0] for _ in range(3)]
    modeladmin = ModelAdmin(ManagedCertificate, AdminSite())
    queryset = ManagedCertificate.objects.filter(pk__in=[c.pk for c in certs])

    form_page = revoke_selected(modeladmin, admin_request(rf, {"action": "revoke_selected"}), queryset)
    form_page.render()
    assert form_page.status_code == 200
    assert b"keyCompromise" in form_page.content
    assert form_page.content.count(b'name="_selected_action"') == 3

    User.objects.all().delete()
    request = admin_request(rf, {"action": "revoke_selected", "apply": "1", "reason": "privilegeWithdrawn"})
    assert revoke_selected(modeladmin, request, queryset) is None
    assert [str(m) for m in get_messages(request)] == [
        "Revoked 3 of 3 certificates (0 already revoked or archived, 0 failed)."
    ]
    assert set(queryset.values_list("revocation_reason", flat=True)) == {"privilegeWithdrawn"}
    assert AuditEvent.objects.get(action="bulk_revocation_initiated").actor == "root"


def test_bulk_revoke_route_is_not_read_as_a_certificate_id(admin_client_with_key):
    assert admin_client_with_key.get(URL).status_code == 405
    assert admin_client_with_key.post(URL + "/", {"reason": "superseded"}, format="json").status_code == 400


def test_revoke_selected_through_the_admin_changelist(client, ca):
    certs = [issue_leaf(ca)[0] for _ in range(2)]
    User.objects.create_superuser("root", "root@example.test", "pw")
    client.force_login(User.objects.get(username="root"))
    url = "/admin/certificates/managedcertificate/"
    ids = [c.pk for c in certs]
    form = client.post(url, {"action": "revoke_selected", "_selected_action": ids})
    assert form.status_code == 200
    assert b"Revoke selected certificates" in form.content
    done = client.post(
        url,
        {"action": "revoke_selected", "_selected_action": ids, "apply": "1", "reason": "superseded"},
        follow=True,
    )
    assert b"Revoked 2 of 2 certificates" in done.content
    reasons = ManagedCertificate.objects.filter(pk__in=ids).values_list("revocation_reason", flat=True)
    assert set(reasons) == {"superseded"}


def test_a_chunk_the_database_refuses_fails_alone_and_is_reported(admin_client_with_key, ca, monkeypatch):
    """A real PostgreSQL error in the second of three chunks: that chunk is rolled back as a whole and reported per
    certificate; the chunks before and after it are revoked; the answer is the usual 200 with honest totals."""
    if connection.vendor != "postgresql":
        pytest.skip("uses a PostgreSQL trigger to make the database refuse one chunk")
    monkeypatch.setattr(revocation, "BULK_CHUNK_SIZE", 4)
    owner = OwnerFactory()
    certs = [issue_leaf(ca, owner=owner)[0] for _ in range(12)]  # resolved oldest first: chunks of 4 in order
    refused = certs[5]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'refused by the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_revocation BEFORE UPDATE ON certificates_managedcertificate FOR EACH ROW "
            f"WHEN (NEW.id = '{refused.id}' AND NEW.status = 'Revoked') EXECUTE FUNCTION test_refuse_revocation()"
        )

    response = admin_client_with_key.post(URL, {"reason": "superseded", "owner_id": owner.id}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    second_chunk = {c.id for c in certs[4:8]}
    assert (body["total_matched"], body["total_revoked"], body["total_failed"]) == (12, 8, 4)
    assert {e["certificate_id"] for e in body["errors"]} == second_chunk
    assert all("database error" in e["error"] for e in body["errors"])
    for cert in certs:
        cert.refresh_from_db()
        expected = CertificateStatus.ACTIVE if cert.id in second_chunk else CertificateStatus.REVOKED
        assert cert.status == expected, cert.id
    # Nothing of the refused chunk was kept: no revocation rows, audit events or notifications for it.
    assert not CertificateRevocation.objects.filter(certificate_id__in=second_chunk).exists()
    assert not AuditEvent.objects.filter(action="certificate_revoked", resource_id__in=second_chunk).exists()
    assert not NotificationEvent.objects.filter(certificate_id__in=second_chunk).exists()
    assert CertificateRevocation.objects.filter(certificate__owner=owner).count() == 8
    summary = AuditEvent.objects.get(action="bulk_revocation_initiated")
    assert (summary.details["total_revoked"], summary.details["total_failed"]) == (8, 4)
