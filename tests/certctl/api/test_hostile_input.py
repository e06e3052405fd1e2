"""Odd input gets a 4xx envelope, never a 500."""

import pytest

from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/teams/team%00x",
        "/api/v1/certificates?owner_id=a%00b",
        "/api/v1/certificates?page=99999999999999999999999",
        "/api/v1/certificates?cursor=MjAyNi0xMy00NXx4",
        "/api/v1/certificates?expires_before=10000-01-01T00:00:00Z",
        "/api/v1/certificates?sort=",
    ],
)
def test_odd_query_input_is_not_a_500(client_with_key, path):
    response = client_with_key.get(path)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\u0000b"},
        {"name": "x" * 300},
        ["not", "an", "object"],
        {"name": None},
    ],
)
def test_odd_json_bodies_are_a_400(admin_client_with_key, body):
    response = admin_client_with_key.post("/api/v1/teams", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_nul_inside_json_config_is_a_400(client_with_key):
    agent = AgentFactory()
    body = {"name": "t", "type": "NGINX", "agent_id": agent.id, "config": {"path": "a\u0000b"}}
    response = client_with_key.post("/api/v1/targets", body, format="json")
    assert response.status_code == 400


def test_malformed_json_is_a_400(admin_client_with_key):
    response = admin_client_with_key.post("/api/v1/teams", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
