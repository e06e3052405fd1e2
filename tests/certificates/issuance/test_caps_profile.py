"""A profile's issuance caps are checked where they are set: the API and the admin refuse values no CSR
could satisfy or that are out of range, and accept the sensible ones."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.inventory.models import CertificateProfile
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

RSA_4096_MINIMUM = [{"algorithm": "RSA", "min_size": 4096}]


def test_a_new_profile_has_the_default_caps(admin_client_with_key):
    response = admin_client_with_key.post("/api/v1/profiles", {"name": "defaults"}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["max_sans"], response.json()["max_rsa_key_size"]) == (100, 8192)


@pytest.mark.parametrize("max_sans", [0, 1001, -5, "many"])
def test_max_sans_outside_1_to_1000_is_refused(admin_client_with_key, max_sans):
    response = admin_client_with_key.post(
        "/api/v1/profiles", {"name": "p", "max_sans": max_sans}, format="json"
    )
    assert response.status_code == 400
    assert "max_sans" in response.json()["fields"]
    assert not CertificateProfile.objects.exists()


@pytest.mark.parametrize("size", [1024, 5000, 16384])
def test_an_rsa_maximum_outside_the_usual_sizes_is_refused(admin_client_with_key, size):
    response = admin_client_with_key.post(
        "/api/v1/profiles", {"name": "p", "max_rsa_key_size": size}, format="json"
    )
    assert response.status_code == 400
    assert "max_rsa_key_size" in response.json()["fields"]


def test_an_rsa_maximum_below_the_profiles_rsa_minimum_is_refused(admin_client_with_key):
    response = admin_client_with_key.post(
        "/api/v1/profiles",
        {"name": "p", "allowed_key_algorithms": RSA_4096_MINIMUM, "max_rsa_key_size": 3072},
        format="json",
    )
    assert response.status_code == 400
    assert "below the RSA min_size 4096" in response.json()["fields"]["max_rsa_key_size"][0]


def test_raising_the_rsa_minimum_above_a_stored_maximum_is_refused(admin_client_with_key):
    profile = ProfileFactory(max_rsa_key_size=3072)
    response = admin_client_with_key.put(
        f"/api/v1/profiles/{profile.id}", {"allowed_key_algorithms": RSA_4096_MINIMUM}, format="json"
    )
    assert response.status_code == 400
    assert "max_rsa_key_size" in response.json()["fields"]


def test_sensible_caps_are_stored(admin_client_with_key):
    profile = ProfileFactory()
    response = admin_client_with_key.put(
        f"/api/v1/profiles/{profile.id}",
        {"max_sans": 1000, "max_rsa_key_size": 4096, "allowed_key_algorithms": RSA_4096_MINIMUM},
        format="json",
    )
    assert response.status_code == 200, response.content
    profile.refresh_from_db()
    assert (profile.max_sans, profile.max_rsa_key_size) == (1000, 4096)


def _admin_post(admin_client, **fields):
    data = {
        "name": "admin-profile",
        "description": "",
        "allowed_key_algorithms": '[{"algorithm": "RSA", "min_size": 4096}]',
        "max_ttl_seconds": "0",
        "allowed_ekus": '["serverAuth"]',
        "required_san_patterns": "[]",
        "enabled": "on",
        "max_sans": "100",
        "max_rsa_key_size": "8192",
        **fields,
    }
    return admin_client.post(reverse("admin:certificates_certificateprofile_add"), data)


def test_the_admin_refuses_caps_no_csr_could_meet(admin_client):
    response = _admin_post(admin_client, max_sans="1001", max_rsa_key_size="3072")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "max_sans" in errors
    assert not CertificateProfile.objects.exists()
    response = _admin_post(admin_client, max_rsa_key_size="3072")
    errors = response.context["adminform"].form.errors
    assert "below the RSA min_size 4096" in errors["max_rsa_key_size"][0]
    assert not CertificateProfile.objects.exists()


def test_the_admin_stores_sensible_caps(admin_client):
    response = _admin_post(admin_client, max_sans="250", max_rsa_key_size="6144")
    assert response.status_code == 302
    assert CertificateProfile.objects.values_list("max_sans", "max_rsa_key_size").get() == (250, 6144)
