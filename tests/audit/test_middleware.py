"""Every /api/v1 request (and every state-changing admin request) leaves an audit row with who, what and how."""

import hashlib
import hmac
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from audit.models import AuditEvent
from audit.services.api_calls import BODY_HASH_SALT, body_hash
from tests.agent_helpers import agent_client, make_agent
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def api_rows_written_in_the_request(settings):
    settings.AUDIT_API_WRITE = "sync"


def api_rows():
    return list(AuditEvent.objects.filter(resource_type="api").order_by("timestamp", "id"))


def only_api_row():
    rows = api_rows()
    assert len(rows) == 1, [(r.action, r.resource_id) for r in rows]
    return rows[0]


def test_get_is_recorded_with_actor_status_latency_and_request_id(client_with_key):
    response = client_with_key.get(
        "/api/v1/audit?per_page=5", HTTP_X_REQUEST_ID="req-get-1", REMOTE_ADDR="127.0.0.9"
    )
    assert response.status_code == 200
    row = only_api_row()
    assert (row.action, row.resource_id, row.actor, row.actor_type) == (
        "api_get",
        "/api/v1/audit",
        "automation",
        "User",
    )
    assert row.details["method"] == "GET"
    assert row.details["query"] == "per_page=5"
    assert row.details["status"] == 200
    assert row.details["body_hash"] == ""
    assert row.details["latency_ms"] > 0
    assert row.details["client_ip"] == "127.0.0.9"
    assert row.details["request_id"] == "req-get-1"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_write_method_is_recorded_with_the_full_body_hash(client_with_key, method):
    body = json.dumps({"name": "x", "n": 1}).encode()
    response = getattr(client_with_key, method)("/api/v1/audit", data=body, content_type="application/json")
    assert response.status_code == 405
    row = only_api_row()
    assert row.action == f"api_{method}"
    assert row.actor == "automation"
    assert row.details["status"] == 405
    assert row.details["body_hash"] == body_hash(body)
    assert len(row.details["body_hash"]) == 64


@pytest.mark.parametrize("method", ["head", "options"])
def test_head_and_options_are_recorded_too(client_with_key, method):
    response = getattr(client_with_key, method)("/api/v1/audit")
    assert response.status_code == 200
    row = only_api_row()
    assert (row.action, row.actor, row.details["status"], row.details["body_hash"]) == (
        f"api_{method}",
        "automation",
        200,
        "",
    )


def test_an_agent_call_is_recorded_with_the_agent_id(api_client):
    agent, credential = make_agent()
    agent_client(api_client, credential)
    response = api_client.post(f"/api/v1/agents/{agent.id}/heartbeat", {}, format="json")
    assert response.status_code == 200
    row = only_api_row()
    assert (row.action, row.actor, row.actor_type, row.details["status"]) == (
        "api_post",
        agent.id,
        "Agent",
        200,
    )
    assert row.details["body_hash"] == body_hash(b"{}")


def test_a_nul_in_the_path_and_an_overlong_method_are_recorded_not_lost(client_with_key):
    # PostgreSQL refuses NUL in text and jsonb: stored as it was sent, `%00`, instead of losing the row.
    assert client_with_key.get("/api/v1/teams/team%00x").status_code == 400
    row = only_api_row()
    assert (row.resource_id, row.details["path"], row.details["status"]) == (
        "/api/v1/teams/team%00x",
        "/api/v1/teams/team%00x",
        400,
    )
    assert client_with_key.generic("X" * 300, "/api/v1/audit").status_code == 405
    row = AuditEvent.objects.get(resource_type="api", resource_id="/api/v1/audit")
    assert (row.action, row.details["method"]) == ("api_" + "x" * 251, "X" * 300)


def test_a_detail_route_with_a_trailing_slash_and_a_404_is_recorded(admin_client_with_key):
    response = admin_client_with_key.get("/api/v1/audit/audit-doesnotexist/")
    assert response.status_code == 404
    row = only_api_row()
    assert (row.actor, row.details["status"], row.resource_id) == (
        "ops-admin",
        404,
        "/api/v1/audit/audit-doesnotexist/",
    )


def test_a_path_outside_any_view_records_the_bearer_key_owner(client_with_key):
    response = client_with_key.post("/api/v1/no-such-thing", data={"a": 1}, format="json")
    assert response.status_code == 404
    row = only_api_row()
    assert (row.action, row.actor, row.actor_type, row.details["status"]) == (
        "api_post",
        "automation",
        "User",
        404,
    )
    assert row.details["body_hash"] == body_hash(b'{"a":1}')


def test_unauthenticated_and_bad_key_requests_are_recorded_as_anonymous(api_client):
    assert api_client.get("/api/v1/audit").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer cctl_not-a-real-key-at-all-000000")
    assert api_client.get("/api/v1/audit").status_code == 401
    rows = api_rows()
    assert [(r.actor, r.actor_type, r.details["status"]) for r in rows] == [
        ("anonymous", "Anonymous", 401)
    ] * 2


def test_a_revoked_key_is_not_named_as_the_actor(api_client):
    from django.utils import timezone

    key, raw = make_api_key("retired")
    type(key).objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/nothing-here").status_code == 404
    assert only_api_row().actor == "anonymous"


def test_a_view_that_raises_is_recorded_with_status_500(client_with_key, monkeypatch):
    from audit.api.views import AuditEventViewSet

    def explode(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(AuditEventViewSet, "list", explode)
    client_with_key.raise_request_exception = False
    response = client_with_key.get("/api/v1/audit")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert only_api_row().details["status"] == 500


@pytest.mark.parametrize(
    "path", ["/health", "/ready", "/api/v1/version", "/static/admin/css/base.css", "/metrics"]
)
def test_probes_version_and_static_files_are_not_recorded(client_with_key, path):
    client_with_key.get(path)
    assert api_rows() == []


def test_secret_query_parameters_are_redacted(client_with_key):
    client_with_key.get(
        "/api/v1/audit?token=abc&page=1&client_secret=s3&X-Signature=sig&q=cctl_AAAAAAAAAAAAAAAAAAAAAA"
    )
    query = only_api_row().details["query"]
    assert "abc" not in query and "s3" not in query and "sig" not in query and "cctl_" not in query
    assert query == "token=[REDACTED]&page=1&client_secret=[REDACTED]&X-Signature=[REDACTED]&q=[REDACTED]"


def test_admin_state_changes_are_recorded_with_the_username_and_admin_reads_are_not(client):
    get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-tests-only")
    client.force_login(get_user_model().objects.get(username="root"))
    assert client.get("/admin/").status_code == 200
    response = client.post("/admin/logout/")
    assert response.status_code == 200
    row = AuditEvent.objects.get(resource_type="api")
    assert (row.action, row.resource_id, row.actor, row.details["status"]) == (
        "api_post",
        "/admin/logout/",
        "root",
        200,
    )


def test_a_failed_admin_login_is_recorded_as_anonymous_without_the_password(client):
    response = client.post("/admin/login/", {"username": "nobody", "password": "hunter2-secret"})
    assert response.status_code == 200
    row = AuditEvent.objects.get(resource_type="api")
    assert (row.actor, row.details["method"]) == ("anonymous", "POST")
    assert "hunter2" not in json.dumps(row.details)


def test_staff_session_on_the_api_is_recorded_with_the_username(client):
    user = get_user_model().objects.create_user("alice", password="pw-for-tests-only", is_staff=True)
    user.groups.add(Group.objects.get(name="Auditors"))
    client.force_login(user)
    assert client.get("/api/v1/audit", HTTP_ACCEPT="application/json").status_code == 200
    row = only_api_row()
    assert (row.actor, row.actor_type) == ("alice", "User")


def test_a_body_over_the_size_limit_is_not_buffered_but_the_call_is_recorded(client_with_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client_with_key.post("/api/v1/audit", data=b"x" * 5000, content_type="application/json")
    assert response.status_code in (400, 405, 413)
    row = only_api_row()
    assert (row.action, row.details["body_hash"], row.details["status"]) == (
        "api_post",
        "",
        response.status_code,
    )


def test_the_body_hash_is_keyed_so_a_guessed_body_cannot_be_confirmed_without_the_server_secret(
    client_with_key, settings
):
    body = b'{"password": "hunter2"}'
    client_with_key.post("/api/v1/audit", data=body, content_type="application/json")
    recorded = only_api_row().details["body_hash"]
    assert recorded != hashlib.sha256(body).hexdigest()  # an offline guess without the key does not match
    assert (
        recorded
        == hmac.new(
            hashlib.sha256((BODY_HASH_SALT + settings.SECRET_KEY).encode()).digest(), body, hashlib.sha256
        ).hexdigest()
    )
    settings.SECRET_KEY = "another-server-secret-" + "x" * 40
    assert body_hash(body) != recorded


def test_audit_body_hash_command_confirms_a_body(client_with_key, tmp_path):
    body = b'{"name": "team-a"}'
    client_with_key.post("/api/v1/audit", data=body, content_type="application/json")
    (tmp_path / "body.json").write_bytes(body)
    out = StringIO()
    call_command("audit_body_hash", str(tmp_path / "body.json"), stdout=out)
    assert out.getvalue().strip() == only_api_row().details["body_hash"]
