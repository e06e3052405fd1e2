"""Certificates and issuers edited in the admin go through the same audited services as the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from certctl.kernel.crypto import decrypt_json
from certificates.demo_data import seed_demo
from certificates.enums import CertificateStatus
from certificates.inventory.models import Issuer, ManagedCertificate
from certificates.issuance.issuers.ca_store import load_ca
from tests.factories import (
    CertificateFactory,
    IssuerFactory,
    OwnerFactory,
    RenewalPolicyFactory,
    TargetFactory,
)


def certificate_post(cert_or_refs, **overrides) -> dict:
    data = {
        "name": "shop-web",
        "common_name": "shop.example.com",
        "sans": "shop.example.com\nwww.shop.example.com\n",
        "environment": "production",
        "owner": cert_or_refs["owner"].pk,
        "team": cert_or_refs["owner"].team_id,
        "issuer": cert_or_refs["issuer"].pk,
        "renewal_policy": cert_or_refs["policy"].pk,
        "status": "Active",
        "expires_at_0": (timezone.now() + timedelta(days=40)).strftime("%Y-%m-%d"),
        "expires_at_1": "12:00:00",
        "tags": "service=shop\ntier = gold",
        "source": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


@pytest.fixture
def refs(db):
    return {"owner": OwnerFactory(), "issuer": IssuerFactory(), "policy": RenewalPolicyFactory()}


@pytest.mark.django_db
def test_adding_a_certificate_audits_it_with_the_operator_as_actor(admin_client, refs):
    target = TargetFactory()
    response = admin_client.post(
        reverse("admin:certificates_managedcertificate_add"), certificate_post(refs, targets=[target.pk])
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    cert = ManagedCertificate.objects.get(name="shop-web")
    assert list(cert.targets.all()) == [target]
    event = AuditEvent.objects.get(action="certificate_created", resource_id=cert.id)
    assert (event.actor, event.actor_type) == ("admin", "User")


@pytest.mark.django_db
def test_sans_and_tags_are_list_inputs_stored_as_the_api_stores_them(admin_client, refs):
    response = admin_client.post(reverse("admin:certificates_managedcertificate_add"), certificate_post(refs))
    assert response.status_code == 302, response.context["adminform"].form.errors
    cert = ManagedCertificate.objects.get(name="shop-web")
    assert cert.sans == ["shop.example.com", "www.shop.example.com"]
    assert cert.tags == {"service": "shop", "tier": "gold"}
    page = admin_client.get(reverse("admin:certificates_managedcertificate_change", args=[cert.pk])).content
    assert b"service=shop\ntier=gold</textarea>" in page
    assert b"shop.example.com\nwww.shop.example.com</textarea>" in page


@pytest.mark.django_db
def test_a_tag_line_without_a_value_is_a_form_error_and_nothing_is_stored(admin_client, refs):
    response = admin_client.post(
        reverse("admin:certificates_managedcertificate_add"), certificate_post(refs, tags="service")
    )
    assert response.status_code == 200
    assert "line 1: write key=value" in str(response.context["adminform"].form.errors["tags"])
    assert not ManagedCertificate.objects.exists()


@pytest.mark.django_db
def test_status_expiry_and_what_only_actions_set_are_read_only_on_the_page(admin_client, refs):
    cert = CertificateFactory(name="shop-web", owner=refs["owner"], issuer=refs["issuer"])
    before = cert.expires_at
    url = reverse("admin:certificates_managedcertificate_change", args=[cert.pk])
    for status in ("Expiring", "Revoked"):
        data = certificate_post({**refs, "policy": cert.renewal_policy}, status=status, environment="staging")
        data.update(revoked_at_0="2026-01-01", revoked_at_1="00:00:00", source="acme")
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
    cert.refresh_from_db()
    assert (cert.status, cert.expires_at, cert.revoked_at, cert.source) == (
        CertificateStatus.ACTIVE,
        before,
        None,
        "",
    )
    assert cert.environment == "staging"  # the editable fields did change, through the audited service
    changed = [
        event.details["changed"]
        for event in AuditEvent.objects.filter(action="certificate_updated", resource_id=cert.id)
    ]
    assert any("environment" in names for names in changed)
    assert not any("status" in names for names in changed)


@pytest.mark.django_db
def test_archive_action_archives_through_the_service_and_delete_is_not_offered(admin_client):
    first, second = CertificateFactory.create_batch(2)
    changelist = reverse("admin:certificates_managedcertificate_changelist")
    response = admin_client.post(
        changelist, {"action": "archive_selected", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Archived 2 certificate(s)." in response.content.decode()
    assert set(ManagedCertificate.objects.values_list("status", flat=True)) == {CertificateStatus.ARCHIVED}
    assert AuditEvent.objects.filter(action="certificate_archived").count() == 2
    assert 'value="delete_selected"' not in admin_client.get(changelist).content.decode()


@pytest.mark.django_db
def test_issuer_config_with_a_credential_is_rejected(admin_client):
    response = admin_client.post(
        reverse("admin:certificates_issuer_add"),
        {"name": "acme-prod", "type": "ACME", "config": '{"directory_url": "https://x", "api_token": "t0k"}'},
    )
    assert response.status_code == 200
    assert "api_token looks like a secret" in str(response.context["adminform"].form.errors["config"])
    assert not Issuer.objects.filter(name="acme-prod").exists()


@pytest.mark.django_db
def test_issuer_secrets_are_merged_encrypted_and_never_shown(admin_client):
    seed_demo()
    issuer = Issuer.objects.get(name="demo-local-ca")
    url = reverse("admin:certificates_issuer_change", args=[issuer.pk])
    data = {
        "name": issuer.name,
        "type": "local",
        "enabled": "on",
        "config": json.dumps(issuer.config),
        "secrets": '{"eab_hmac_key": "very-secret-hmac"}',
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    issuer.refresh_from_db()
    stored = decrypt_json(issuer.encrypted_config)
    assert stored["eab_hmac_key"] == "very-secret-hmac"
    assert "private_key_pem" in stored  # the CA key survived the edit
    assert load_ca(issuer).certificate is not None
    page = admin_client.get(url).content.decode()
    assert "very-secret-hmac" not in page and "PRIVATE KEY" not in page


@pytest.mark.django_db
def test_target_config_with_a_credential_is_rejected(admin_client):
    agent = TargetFactory().agent
    response = admin_client.post(
        reverse("admin:certificates_deploymenttarget_add"),
        {
            "name": "f5-prod",
            "type": "F5",
            "agent": agent.pk,
            "config": '{"host": "f5", "password": "hunter2"}',
        },
    )
    assert response.status_code == 200
    assert "password look like credentials" in str(response.context["adminform"].form.errors["config"])
