"""The CA private key never leaves the server: not through the API, not through the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from certificates.issuance.issuers.ca_store import load_ca
from tests.issuance_helpers import make_intermediate, make_root

pytestmark = pytest.mark.django_db


def _leaks(text: str, issuer) -> list[str]:
    found = [marker for marker in ("PRIVATE KEY", "private_key_pem") if marker in text]
    if issuer.encrypted_config and issuer.encrypted_config in text:
        found.append("encrypted_config")
    return found


def test_issuer_api_shows_the_ca_certificate_but_never_the_key(admin_client_with_key):
    root = make_root()
    issuing = make_intermediate(root)
    for issuer in (root, issuing):
        detail = admin_client_with_key.get(f"/api/v1/issuers/{issuer.pk}")
        assert detail.status_code == 200
        assert _leaks(detail.content.decode(), issuer) == []
        listing = admin_client_with_key.get("/api/v1/issuers").content.decode()
        assert _leaks(listing, issuer) == []
    assert load_ca(issuing).private_key is not None  # still usable by the server


def test_issuer_admin_pages_never_show_the_key(client):
    user = get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-tests-only")
    client.force_login(user)
    issuer = make_root()
    for url in (f"/admin/certificates/issuer/{issuer.pk}/change/", "/admin/certificates/issuer/"):
        page = client.get(url)
        assert page.status_code == 200
        assert _leaks(page.content.decode(), issuer) == []
