"""An issuer's public `config` holds only the keys its type declares public: credentials under names the old
deny-list missed (`pwd`, `pass`, `auth`, `bearer`, `pkcs12`) and unknown keys are refused by the API and the
admin, naming the key and pointing at `secrets`; every declared key is accepted."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.config import DNS_PUBLIC_KEYS, PUBLIC_KEYS
from certificates.issuance.issuers.acme.dns import PROVIDERS
from certificates.issuance.issuers.local import LocalCA
from certificates.issuance.issuers.registry import BACKENDS

pytestmark = pytest.mark.django_db

REFUSED_KEYS = ["pwd", "pass", "auth", "bearer", "pkcs12", "colour"]
ACME_CONFIG = {"directory_url": "https://acme.example.test/directory", "agree_tos": True}
RFC2136 = {
    "provider": "rfc2136",
    "server": "ns1.example.test:53",
    "zone": "example.test",
    "tsig_name": "certctl",
    "tsig_algorithm": "hmac-sha256",
    "timeout_seconds": 30,
}
EXEC_HOOK = {"provider": "exec", "hook": "/usr/local/bin/dns-hook", "timeout_seconds": 30}
# One valid value for every key an ACME issuer declares public.
ACME_PUBLIC_VALUES = {
    "directory_url": "https://acme.example.test/directory",
    "agree_tos": True,
    "contact_email": "pki@example.test",
    "eab_kid": "kid-1",
    "ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
    "poll_timeout_seconds": 60,
    "challenge": "http-01-agent",
    "dns": RFC2136,
    "propagation_nameservers": ["ns1.example.test"],
    "propagation_timeout_seconds": 60,
    "agent_publish_timeout_seconds": 60,
}
LOCAL_PUBLIC_VALUES = {
    "ca_cert_pem": "-----BEGIN CERTIFICATE-----",
    "chain_pem": "",
    "parent_issuer_id": "iss-parent",
    "key_algorithm": "ECDSA",
    "key_size": 256,
}
SECRETS = {"eab_hmac_key": "c2VjcmV0", "tsig_secret": "c2VjcmV0"}


def _create(client, issuer_type: str, config: dict, secrets: dict | None = None):
    body = {"name": "ca", "type": issuer_type, "config": config}
    if secrets is not None:
        body["secrets"] = secrets
    return client.post("/api/v1/issuers", body, format="json")


def _refused_naming(response, path: str) -> None:
    assert response.status_code == 400, response.content
    errors = response.json()["fields"]["config"]
    message = errors[path][0]
    assert message.startswith(path) and "`secrets`" in message
    assert not Issuer.objects.exists()


def test_every_backend_declares_its_public_keys_and_every_dns_provider_has_its_own():
    assert all(cls.public_config_keys for cls in BACKENDS.values())
    assert set(DNS_PUBLIC_KEYS) == set(PROVIDERS)
    assert set(ACME_PUBLIC_VALUES) == PUBLIC_KEYS
    assert set(LOCAL_PUBLIC_VALUES) == LocalCA.public_config_keys


@pytest.mark.parametrize("key", REFUSED_KEYS)
def test_a_local_issuer_config_with_an_undeclared_key_is_refused(admin_client_with_key, key):
    _refused_naming(_create(admin_client_with_key, "local", {key: "x"}), key)


@pytest.mark.parametrize("key", REFUSED_KEYS)
def test_an_acme_issuer_config_with_an_undeclared_key_is_refused(admin_client_with_key, key):
    _refused_naming(_create(admin_client_with_key, "ACME", {**ACME_CONFIG, key: "x"}), key)


@pytest.mark.parametrize("key", REFUSED_KEYS)
@pytest.mark.parametrize("provider", [RFC2136, EXEC_HOOK], ids=["rfc2136", "exec"])
def test_an_undeclared_key_of_a_dns_provider_is_refused(admin_client_with_key, key, provider):
    config = {**ACME_CONFIG, "challenge": "dns-01", "dns": {**provider, key: "x"}}
    _refused_naming(_create(admin_client_with_key, "ACME", config, SECRETS), f"dns.{key}")


def test_a_key_of_another_dns_provider_is_refused(admin_client_with_key):
    config = {**ACME_CONFIG, "challenge": "dns-01", "dns": {**EXEC_HOOK, "zone": "example.test"}}
    _refused_naming(_create(admin_client_with_key, "ACME", config, SECRETS), "dns.zone")


def test_a_type_without_a_backend_takes_no_public_config(admin_client_with_key):
    _refused_naming(_create(admin_client_with_key, "StepCA", {"url": "https://ca.example.test"}), "url")
    assert _create(admin_client_with_key, "StepCA", {}).status_code == 201


def test_a_secret_nested_in_a_declared_key_is_still_refused_by_the_deny_list(admin_client_with_key):
    config = {**ACME_CONFIG, "eab_kid": {"password": "x"}}
    response = _create(admin_client_with_key, "ACME", config)
    assert response.status_code == 400
    assert "eab_kid.password" in str(response.json()["fields"]["config"])


def test_changing_the_type_checks_the_stored_config_against_the_new_type(admin_client_with_key):
    created = _create(admin_client_with_key, "local", LOCAL_PUBLIC_VALUES)
    assert created.status_code == 201
    response = admin_client_with_key.put(
        f"/api/v1/issuers/{created.json()['id']}", {"type": "ACME"}, format="json"
    )
    assert response.status_code == 400
    assert "ca_cert_pem" in response.json()["fields"]["config"]


@pytest.mark.parametrize("key", sorted(PUBLIC_KEYS))
def test_each_public_acme_key_is_accepted(admin_client_with_key, key):
    config = {**ACME_CONFIG, key: ACME_PUBLIC_VALUES[key]}
    if key == "dns":
        config["challenge"] = "dns-01"
    response = _create(admin_client_with_key, "ACME", config, SECRETS)
    assert response.status_code == 201, response.content
    assert response.json()["config"] == config


def test_every_public_key_of_both_dns_providers_is_accepted(admin_client_with_key):
    for name, provider in (("rfc", RFC2136), ("exec", EXEC_HOOK)):
        config = {**ACME_PUBLIC_VALUES, "challenge": "dns-01", "dns": provider}
        response = admin_client_with_key.post(
            "/api/v1/issuers",
            {"name": name, "type": "ACME", "config": config, "secrets": SECRETS},
            format="json",
        )
        assert response.status_code == 201, response.content


@pytest.mark.parametrize("key", sorted(LOCAL_PUBLIC_VALUES))
def test_each_public_local_key_is_accepted(admin_client_with_key, key):
    response = _create(admin_client_with_key, "local", {key: LOCAL_PUBLIC_VALUES[key]})
    assert response.status_code == 201, response.content


# --- the admin form ----------------------------------------------------------------------------------------


def _admin_post(admin_client, issuer_type: str, config: dict):
    data = {
        "name": "admin-ca",
        "type": issuer_type,
        "enabled": "on",
        "config": json.dumps(config),
        "secrets": "",
    }
    return admin_client.post(reverse("admin:certificates_issuer_add"), data)


@pytest.mark.parametrize("key", REFUSED_KEYS)
@pytest.mark.parametrize("issuer_type", ["local", "ACME"])
def test_the_admin_refuses_an_undeclared_key(admin_client, issuer_type, key):
    config = {**(ACME_CONFIG if issuer_type == "ACME" else {}), key: "x"}
    response = _admin_post(admin_client, issuer_type, config)
    assert response.status_code == 200
    errors = list(response.context["adminform"].form.errors["config"])
    assert any(error.startswith(key) and "`secrets`" in error for error in errors)
    assert not Issuer.objects.exists()


def test_the_admin_accepts_every_public_local_key(admin_client):
    response = _admin_post(admin_client, "local", LOCAL_PUBLIC_VALUES)
    assert response.status_code == 302
    assert Issuer.objects.get().config == LOCAL_PUBLIC_VALUES
