"""Failed API authentications are counted per address and refused (429) over the limit, before any check."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key

BOOTSTRAP = "bootstrap-secret-for-tests"


def client_from(address: str, token: str) -> APIClient:
    client = APIClient(HTTP_HOST="localhost", REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def register_agent(address: str, token: str) -> int:
    return client_from(address, token).post("/api/v1/agents", {"name": "web-1"}, format="json").status_code


@pytest.mark.django_db
def test_a_hundred_wrong_keys_get_401_up_to_the_limit_then_429_with_retry_after():
    attacker = APIClient(HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.5")
    statuses = []
    for n in range(100):
        attacker.credentials(HTTP_AUTHORIZATION=f"Bearer wrong-key-{n}")
        response = attacker.get("/api/v1/certificates")
        statuses.append(response.status_code)

    assert statuses == [401] * 30 + [429] * 70  # the default CERTCTL_AUTH_FAILURE_LIMIT, 30/min
    body = response.json()
    assert body["error"] == "rate_limited" and "failed authentications" in body["message"]
    assert body["request_id"]
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.django_db
def test_a_correct_key_from_another_address_still_works(settings):
    settings.AUTH_FAILURE_LIMIT = "5/min"
    for _ in range(6):
        client_from("203.0.113.6", "wrong").get("/api/v1/certificates")
    key = make_api_key("automation")[1]

    assert client_from("203.0.113.7", key).get("/api/v1/certificates").status_code == 200
    # The limit is checked before the key: the attacker's address is refused even a correct key.
    assert client_from("203.0.113.6", key).get("/api/v1/certificates").status_code == 429


@pytest.mark.django_db
def test_successful_authentications_are_not_counted(settings):
    settings.AUTH_FAILURE_LIMIT = "5/min"
    key = make_api_key("automation")[1]
    for _ in range(20):
        assert client_from("203.0.113.8", key).get("/api/v1/certificates").status_code == 200

    assert client_from("203.0.113.8", "wrong").get("/api/v1/certificates").status_code == 401


@pytest.mark.django_db
def test_a_malformed_authorization_header_counts_as_a_failure(settings):
    settings.AUTH_FAILURE_LIMIT = "2/min"
    client = APIClient(HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Basic eDp5")

    assert [client.get("/api/v1/certificates").status_code for _ in range(3)] == [401, 401, 429]


@pytest.mark.django_db
def test_bootstrap_token_guessing_gets_429_after_the_limit(settings):
    settings.AGENT_BOOTSTRAP_TOKEN = BOOTSTRAP
    settings.AUTH_FAILURE_LIMIT = "10/min"
    statuses = [register_agent("198.51.100.4", f"guess-{n}") for n in range(25)]

    assert statuses == [401] * 10 + [429] * 15
    assert register_agent("198.51.100.5", BOOTSTRAP) == 201


@pytest.mark.django_db
def test_agent_credential_guessing_gets_429_after_the_limit(settings):
    settings.AUTH_FAILURE_LIMIT = "3/min"
    heartbeat = "/api/v1/agents/agent-1/heartbeat"
    statuses = [
        client_from("198.51.100.6", f"cagt.agent-{n}.secret").post(heartbeat, {}, format="json").status_code
        for n in range(5)
    ]

    assert statuses == [401, 401, 401, 429, 429]


@pytest.mark.django_db
def test_metrics_answers_a_throttled_address_429_too(settings):
    settings.AUTH_FAILURE_LIMIT = "3/min"
    answers = [client_from("203.0.113.9", f"wrong-{n}").get("/metrics").status_code for n in range(5)]
    assert answers == [401, 401, 401, 429, 429]
    response = client_from("203.0.113.9", "wrong-last").get("/metrics")
    assert response.json()["error"] == "rate_limited" and int(response["Retry-After"]) >= 1
