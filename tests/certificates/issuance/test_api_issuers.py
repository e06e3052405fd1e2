import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from rest_framework.test import APIClient

from certctl.kernel.crypto import decrypt_json
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.ca_store import load_ca, store_ca
from tests.factories import CertificateFactory, IssuerFactory

pytestmark = pytest.mark.django_db

SECRET = "tok-SUPER-SECRET-123"


def _raw_encrypted_column(issuer_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_config FROM certificates_issuer WHERE id = %s", [issuer_id])
        return cursor.fetchone()[0]


def test_secrets_are_stored_encrypted_and_never_returned(admin_client_with_key, user_key):
    reader = APIClient(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {user_key}")
    created = admin_client_with_key.post(
        "/api/v1/issuers",
        {
            "name": "acme-le",
            "type": "ACME",
            "config": {
                "directory_url": "https://acme.example.test/dir",
                "contact_email": "pki@example.test",
                "agree_tos": True,
            },
            "secrets": {"eab_hmac": SECRET},
        },
        format="json",
    )
    assert created.status_code == 201
    issuer_id = created.json()["id"]
    assert created.json()["has_secrets"] is True
    assert "secrets" not in created.json()

    raw = _raw_encrypted_column(issuer_id)
    assert SECRET not in raw
    assert decrypt_json(raw) == {"eab_hmac": SECRET}

    responses = [
        created,
        reader.get("/api/v1/issuers"),
        reader.get(f"/api/v1/issuers/{issuer_id}"),
        admin_client_with_key.put(f"/api/v1/issuers/{issuer_id}", {"enabled": False}, format="json"),
        reader.get("/api/v1/schema/"),
    ]
    for response in responses:
        assert response.status_code in (200, 201)
        assert SECRET not in response.content.decode()
        assert "encrypted_config" not in response.content.decode()


@pytest.mark.parametrize(
    "key", ["password", "api_token", "clientSecret", "private_key_pem", "hmac_key", "nested.apiKey"]
)
def test_secret_looking_keys_in_config_are_refused(admin_client_with_key, key):
    config: dict = {"url": "https://ca.example.test"}
    if "." in key:
        outer, inner = key.split(".")
        config[outer] = {inner: "x"}
    else:
        config[key] = "x"
    response = admin_client_with_key.post(
        "/api/v1/issuers", {"name": "i", "type": "StepCA", "config": config}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["fields"]["config"]
    assert "`secrets`" in errors[key][0]
    assert not Issuer.objects.exists()


def test_public_descriptions_of_keys_are_allowed_in_config(admin_client_with_key):
    config = {"key_size": 256, "key_algorithm": "ECDSA", "ca_cert_pem": "-----BEGIN CERTIFICATE-----"}
    response = admin_client_with_key.post(
        "/api/v1/issuers", {"name": "local", "type": "local", "config": config}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["config"] == config
    assert response.json()["has_secrets"] is False


def test_updating_secrets_merges_and_keeps_a_stored_ca_key(admin_client_with_key):
    issuer = IssuerFactory()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Test CA")])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    store_ca(issuer, cert, key)
    issuer.save()

    response = admin_client_with_key.put(
        f"/api/v1/issuers/{issuer.id}", {"secrets": {"api_token": SECRET}}, format="json"
    )
    assert response.status_code == 200
    issuer.refresh_from_db()
    assert set(decrypt_json(issuer.encrypted_config)) == {"private_key_pem", "api_token"}
    assert load_ca(issuer).certificate == cert
    assert "ca_cert_pem" in response.json()["config"]

    admin_client_with_key.put(f"/api/v1/issuers/{issuer.id}", {"secrets": {"api_token": None}}, format="json")
    issuer.refresh_from_db()
    assert set(decrypt_json(issuer.encrypted_config)) == {"private_key_pem"}


def test_issuer_type_must_be_known(admin_client_with_key):
    response = admin_client_with_key.post("/api/v1/issuers", {"name": "x", "type": "Nope"}, format="json")
    assert response.status_code == 400


def test_secrets_must_be_an_object(admin_client_with_key):
    response = admin_client_with_key.post(
        "/api/v1/issuers", {"name": "x", "type": "ACME", "secrets": json.dumps({"a": 1})}, format="json"
    )
    assert response.status_code == 400
    assert "secrets" in response.json()["fields"]


def test_duplicate_issuer_name_is_a_409(admin_client_with_key):
    IssuerFactory(name="dup")
    response = admin_client_with_key.post("/api/v1/issuers", {"name": "dup", "type": "local"}, format="json")
    assert response.status_code == 409


def test_deleting_an_issuer_in_use_is_a_409(admin_client_with_key):
    cert = CertificateFactory()
    response = admin_client_with_key.delete(f"/api/v1/issuers/{cert.issuer_id}")
    assert response.status_code == 409
    assert response.json()["message"] == "still referenced by 1 certificate"


def test_non_admin_key_cannot_change_or_delete_an_issuer(client_with_key):
    issuer = IssuerFactory()
    assert (
        client_with_key.put(f"/api/v1/issuers/{issuer.id}", {"enabled": False}, format="json").status_code
        == 403
    )
    assert client_with_key.delete(f"/api/v1/issuers/{issuer.id}").status_code == 403
    assert client_with_key.get(f"/api/v1/issuers/{issuer.id}").status_code == 200


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("eab_hmac", True),
        ("clientSecret", True),
        ("api-key", True),
        ("bootstrap_token", True),
        ("private_key_pem", True),
        ("key_size", False),
        ("ca_key_path", False),
        ("key_algorithm", False),
        ("ca_cert_pem", False),
        ("directory_url", False),
        ("monkey", False),
    ],
)
def test_secret_looking_key_names(name, secret):
    from certctl.kernel.secret_keys import looks_secret

    assert looks_secret(name) is secret


def test_secrets_that_no_longer_decrypt_are_a_409_not_a_500(admin_client_with_key, settings):
    admin_client_with_key.post(
        "/api/v1/issuers", {"name": "rot", "type": "VaultPKI", "secrets": {"eab_hmac": "x"}}, format="json"
    )
    issuer = Issuer.objects.get(name="rot")
    settings.ENCRYPTION_KEYS = ["a-completely-different-key-material-0123456789"]
    response = admin_client_with_key.put(
        f"/api/v1/issuers/{issuer.id}", {"secrets": {"eab_kid": "y"}}, format="json"
    )
    assert response.status_code == 409
    assert "CERTCTL_ENCRYPTION_KEY" in response.json()["message"]
