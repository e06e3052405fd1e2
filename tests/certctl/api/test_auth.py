import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def test_request_without_a_key_gets_401_with_a_bearer_challenge(api_client):
    response = api_client.get("/api/v1/teams")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="certctl"'
    assert response.json()["error"] == "unauthorized"


def test_malformed_authorization_header_gets_401(api_client):
    response = api_client.get("/api/v1/teams", HTTP_AUTHORIZATION="Token abc")
    assert response.status_code == 401
    assert "expected: Bearer <token>" in response.json()["message"]


def test_unknown_key_gets_401(api_client):
    response = api_client.get("/api/v1/teams", HTTP_AUTHORIZATION="Bearer cctl_not-a-real-key")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid API key"


def test_revoked_key_gets_401(api_client):
    key, raw = make_api_key("old")
    key.revoked_at = key.created_at
    key.save()
    response = api_client.get("/api/v1/teams", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401


def test_valid_key_gets_200(client_with_key):
    assert client_with_key.get("/api/v1/teams").status_code == 200


def test_auth_check_reports_the_key_name_and_admin_flag(client_with_key):
    response = client_with_key.get("/api/v1/auth/check")
    assert response.json() == {
        "status": "authenticated",
        "user": "automation",
        "admin": False,
        "scopes": ["read", "write"],
        "teams": None,
    }


def test_auth_check_reports_admin_for_an_admin_key(admin_client_with_key):
    assert admin_client_with_key.get("/api/v1/auth/check").json()["admin"] is True


def test_admin_only_endpoint_refuses_a_non_admin_key_with_403(client_with_key):
    response = client_with_key.post("/api/v1/issuers", {"name": "ca", "type": "local"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_admin_only_endpoint_accepts_an_admin_key(admin_client_with_key):
    response = admin_client_with_key.post("/api/v1/issuers", {"name": "ca", "type": "local"}, format="json")
    assert response.status_code == 201


def test_staff_session_can_use_the_api(api_client):
    staff = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    staff.groups.add(Group.objects.get(name="Auditors"))
    api_client.force_login(staff)
    response = api_client.get("/api/v1/auth/check")
    assert response.status_code == 200
    assert response.json()["user"] == "alice"


def test_non_staff_session_is_not_authenticated(api_client):
    user = get_user_model().objects.create_user("bob", password="pw-123456", is_staff=False)
    api_client.force_login(user)
    assert api_client.get("/api/v1/teams").status_code == 401


def test_service_endpoints_need_no_key(api_client):
    assert api_client.get("/api/v1/version").status_code == 200
    assert api_client.get("/health").status_code == 200


def test_staff_session_writes_need_a_csrf_token(db):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="localhost", enforce_csrf_checks=True)
    staff = get_user_model().objects.create_user("carol", password="pw-123456", is_staff=True)
    client.force_login(staff)
    response = client.post("/api/v1/teams", {"name": "csrf"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_staff_session_changes_are_audited_under_the_username(api_client):
    from audit.models import AuditEvent
    from tests.factories import CertificateFactory

    staff = get_user_model().objects.create_user("dave", password="pw-123456", is_staff=True)
    staff.groups.add(Group.objects.get(name="Operators"))
    api_client.force_login(staff)
    cert = CertificateFactory()
    assert api_client.delete(f"/api/v1/certificates/{cert.id}").status_code == 204
    event = AuditEvent.objects.get(action="certificate_archived")
    assert (event.actor, event.actor_type) == ("dave", "User")


def test_browsable_api_renders_for_staff(api_client):
    from tests.factories import CertificateFactory

    cert = CertificateFactory()
    staff = get_user_model().objects.create_user(
        "erin", password="pw-123456", is_staff=True, is_superuser=True
    )
    api_client.force_login(staff)
    for url in ("/api/v1/certificates", f"/api/v1/certificates/{cert.id}", "/api/v1/issuers"):
        response = api_client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")


def test_the_compiled_key_lookup_finds_live_keys_only_and_knows_their_binding():
    from certctl.api.authentication import key_by_digest
    from certctl.kernel.credentials import hash_key
    from tests.factories import TeamFactory

    free, free_raw = make_api_key("free")
    _, bound_raw = make_api_key("bound", teams=[TeamFactory()])
    revoked, revoked_raw = make_api_key("revoked")
    revoked.revoked_at = revoked.created_at
    revoked.save()

    found = key_by_digest(hash_key(free_raw))
    assert (found.pk, found.name, found.scopes, bool(found.team_bound)) == (
        free.pk,
        "free",
        free.scopes,
        False,
    )
    assert bool(key_by_digest(hash_key(bound_raw)).team_bound) is True
    assert key_by_digest(hash_key(revoked_raw)) is None
    assert key_by_digest(hash_key("cctl_not-a-real-key")) is None
