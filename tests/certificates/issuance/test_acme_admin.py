"""The issuer admin form for ACME issuers: the config checked field by field, the EAB HMAC key write-only."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from certctl.kernel.crypto import decrypt_json
from certificates.inventory.models import Issuer
from certificates.issuance.services.issuer_config import save_issuer

pytestmark = pytest.mark.django_db

HMAC_KEY = "c2VjcmV0LWhtYWMta2V5LWZyb20tdGhlLWNh"
GOOD_CONFIG = {
    "directory_url": "https://acme.example.test/directory",
    "contact_email": "pki@example.test",
    "agree_tos": True,
}


def _post(admin_client, config: dict, secrets: dict | None = None, issuer: Issuer | None = None):
    url = (
        reverse("admin:certificates_issuer_change", args=[issuer.pk])
        if issuer
        else reverse("admin:certificates_issuer_add")
    )
    data = {"name": issuer.name if issuer else "acme-prod", "type": "ACME", "enabled": "on"}
    data.update(config=json.dumps(config), secrets=json.dumps(secrets) if secrets is not None else "")
    return admin_client.post(url, data)


def _errors(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def test_an_http_directory_without_tos_and_a_bad_contact_gets_one_config_error_each(admin_client):
    config = {
        "directory_url": "http://acme.example.test/dir",
        "contact_email": "pki-at-example",
        "agree_tos": 1,
    }

    response = _post(admin_client, config)

    assert response.status_code == 200
    errors = _errors(response, "config")
    assert any("directory_url must use https" in error for error in errors)
    assert any("agree_tos must be true" in error for error in errors)
    assert any("contact_email 'pki-at-example' is not an e-mail address" in error for error in errors)
    assert not Issuer.objects.filter(name="acme-prod").exists()


def test_a_missing_directory_url_is_a_config_error(admin_client):
    response = _post(admin_client, {"agree_tos": True})

    assert any("directory_url must be the CA's ACME directory URL" in e for e in _errors(response, "config"))


def test_an_eab_key_id_without_its_hmac_key_is_an_error_on_the_secrets(admin_client):
    response = _post(admin_client, {**GOOD_CONFIG, "eab_kid": "kid-1"})

    assert response.status_code == 200
    assert any("eab_kid needs its eab_hmac_key" in error for error in _errors(response, "secrets"))
    assert _errors(response, "config") == []


def test_an_hmac_key_without_its_key_id_is_an_error_on_the_config(admin_client):
    response = _post(admin_client, GOOD_CONFIG, {"eab_hmac_key": HMAC_KEY})

    assert response.status_code == 200
    assert any("needs its eab_kid" in error for error in _errors(response, "config"))


def test_an_hmac_key_that_is_not_base64url_is_refused(admin_client):
    response = _post(admin_client, {**GOOD_CONFIG, "eab_kid": "kid-1"}, {"eab_hmac_key": "not base64!"})

    assert any("must be the base64url value" in error for error in _errors(response, "secrets"))


def test_a_refused_form_does_not_echo_the_hmac_key_it_was_sent(admin_client):
    config = {**GOOD_CONFIG, "directory_url": "ftp://acme.example.test", "eab_kid": "kid-1"}

    response = _post(admin_client, config, {"eab_hmac_key": HMAC_KEY})

    assert response.status_code == 200 and _errors(response, "config")
    assert HMAC_KEY not in response.content.decode()


def test_a_valid_issuer_with_eab_is_saved_with_the_hmac_key_encrypted_and_never_shown(admin_client):
    response = _post(admin_client, {**GOOD_CONFIG, "eab_kid": "kid-1"}, {"eab_hmac_key": HMAC_KEY})

    assert response.status_code == 302, response.context["adminform"].form.errors
    issuer = Issuer.objects.get(name="acme-prod")
    assert issuer.config["eab_kid"] == "kid-1" and "eab_hmac_key" not in issuer.config
    assert decrypt_json(issuer.encrypted_config)["eab_hmac_key"] == HMAC_KEY
    page = admin_client.get(reverse("admin:certificates_issuer_change", args=[issuer.pk])).content.decode()
    assert HMAC_KEY not in page and issuer.encrypted_config not in page
    assert "kid-1" in page  # the key id is public


def test_editing_an_issuer_keeps_its_stored_hmac_key_without_sending_it_again(admin_client):
    issuer = save_issuer(
        Issuer(),
        {"name": "acme-eab", "type": "ACME", "config": {**GOOD_CONFIG, "eab_kid": "kid-1"}},
        {
            "eab_hmac_key": HMAC_KEY,
            "account_key_pem": "-----BEGIN PRIVATE KEY-----\nMIG\n-----END PRIVATE KEY-----",
        },
    )

    response = _post(
        admin_client, {**GOOD_CONFIG, "eab_kid": "kid-1", "contact_email": "ops@example.test"}, None, issuer
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    issuer.refresh_from_db()
    assert issuer.config["contact_email"] == "ops@example.test"
    assert decrypt_json(issuer.encrypted_config)["eab_hmac_key"] == HMAC_KEY
    page = admin_client.get(reverse("admin:certificates_issuer_change", args=[issuer.pk])).content.decode()
    assert HMAC_KEY not in page and "PRIVATE KEY" not in page


def test_removing_the_hmac_key_while_keeping_the_key_id_is_refused(admin_client):
    issuer = save_issuer(
        Issuer(),
        {"name": "acme-eab", "type": "ACME", "config": {**GOOD_CONFIG, "eab_kid": "kid-1"}},
        {"eab_hmac_key": HMAC_KEY},
    )

    response = _post(admin_client, {**GOOD_CONFIG, "eab_kid": "kid-1"}, {"eab_hmac_key": None}, issuer)

    assert any("eab_kid needs its eab_hmac_key" in error for error in _errors(response, "secrets"))
    issuer.refresh_from_db()
    assert decrypt_json(issuer.encrypted_config)["eab_hmac_key"] == HMAC_KEY


def test_a_local_ca_is_not_held_to_the_acme_rules(admin_client):
    response = admin_client.post(
        reverse("admin:certificates_issuer_add"),
        {"name": "lab-ca", "type": "local", "enabled": "on", "config": "{}", "secrets": ""},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
