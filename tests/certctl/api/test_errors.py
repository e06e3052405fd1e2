import pytest

from certificates.inventory.models import Team
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {"error", "message", "request_id"}


def assert_envelope(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response["X-Request-ID"]
    body = response.json()
    assert body.keys() >= ENVELOPE_KEYS
    assert body["error"] == error
    assert body["request_id"] == response["X-Request-ID"]
    assert body["message"]
    return body


def test_400_envelope_lists_the_bad_fields(admin_client_with_key):
    body = assert_envelope(
        admin_client_with_key.post("/api/v1/teams", {"description": "no name"}, format="json"),
        400,
        "validation_error",
    )
    assert "name" in body["fields"]


def test_401_envelope(api_client):
    assert_envelope(api_client.get("/api/v1/certificates"), 401, "unauthorized")


def test_404_envelope_for_an_unknown_id(client_with_key):
    assert_envelope(client_with_key.get("/api/v1/teams/team-missing"), 404, "not_found")


def test_405_envelope_for_a_wrong_method(client_with_key):
    assert_envelope(
        client_with_key.post("/api/v1/stats/summary", {}, format="json"), 405, "method_not_allowed"
    )


def test_409_envelope_for_a_duplicate_name(admin_client_with_key):
    TeamFactory(name="platform")
    body = assert_envelope(
        admin_client_with_key.post("/api/v1/teams", {"name": "platform"}, format="json"), 409, "conflict"
    )
    assert "platform" in body["message"]


def test_incoming_request_id_is_echoed(client_with_key):
    response = client_with_key.get("/api/v1/teams", HTTP_X_REQUEST_ID="trace-42")
    assert response["X-Request-ID"] == "trace-42"


def test_a_trailing_slash_is_accepted_without_a_redirect(admin_client_with_key):
    response = admin_client_with_key.post("/api/v1/teams/", {"name": "slashy"}, format="json")
    assert response.status_code == 201


def test_non_json_body_is_refused_with_415(admin_client_with_key):
    response = admin_client_with_key.post(
        "/api/v1/teams", "name=x", content_type="application/x-www-form-urlencoded"
    )
    assert_envelope(response, 415, "unsupported_media_type")


def test_429_envelope_with_retry_after(client_with_key, monkeypatch):
    from django.core.cache import cache

    from certctl.api.throttling import ClientRateThrottle

    cache.clear()
    monkeypatch.setattr(ClientRateThrottle, "rate", "2/min", raising=False)
    for _ in range(2):
        assert client_with_key.get("/api/v1/teams").status_code == 200
    response = client_with_key.get("/api/v1/teams")
    assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_403_envelope_for_a_non_admin_key(client_with_key):
    body = assert_envelope(
        client_with_key.post("/api/v1/certificates/bulk-revoke", {"reason": "superseded"}, format="json"),
        403,
        "insufficient_scope",
    )
    assert "`admin`" in body["message"]


def test_500_envelope_for_a_crash_tells_nothing_but_the_request_id(client_with_key, monkeypatch):
    from certificates.inventory.api.views import TeamViewSet

    def crash(self, request, *args, **kwargs):
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(TeamViewSet, "list", crash)
    client_with_key.raise_request_exception = False
    body = assert_envelope(client_with_key.get("/api/v1/teams"), 500, "internal_error")
    assert "secret detail" not in body["message"]


def test_security_headers_stay_on_api_responses_while_rate_limiting_is_on(client_with_key, monkeypatch):
    """Reference SRC-BUG: with the rate limiter on, the API chain lost its security headers."""
    from django.core.cache import cache

    from certctl.api.throttling import ClientRateThrottle

    cache.clear()
    monkeypatch.setattr(ClientRateThrottle, "rate", "1/min", raising=False)
    responses = [client_with_key.get("/api/v1/teams") for _ in range(2)]
    cache.clear()
    assert [r.status_code for r in responses] == [200, 429]
    for response in responses:
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"


def test_hsts_is_sent_on_https_api_responses_in_production(client_with_key, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_PRELOAD = False
    response = client_with_key.get("/api/v1/teams", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_a_body_over_the_limit_is_a_413_envelope_and_stores_nothing(admin_client_with_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = admin_client_with_key.post(
        "/api/v1/teams", {"name": "x" * 4096, "description": "big"}, format="json"
    )
    body = assert_envelope(response, 413, "payload_too_large")
    assert "2048 bytes" in body["message"] and "CERTCTL_MAX_BODY_SIZE" in body["message"]
    assert not Team.objects.exists()


def test_a_body_over_the_limit_is_a_413_envelope_outside_drf_too(client, settings):
    """OCSP POST reads the body in a plain Django view, without authentication: a 413, never a 500."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = client.post(
        "/.well-known/pki/ocsp/issuer-unknown", data=b"\x30" * 4096, content_type="application/ocsp-request"
    )
    body = assert_envelope(response, 413, "payload_too_large")
    assert "CERTCTL_MAX_BODY_SIZE" in body["message"]


def test_deeply_nested_json_is_a_400_envelope_not_a_500(admin_client_with_key):
    nested = "[" * 100_000 + "]" * 100_000
    response = admin_client_with_key.post("/api/v1/teams", data=nested, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"]
    assert not Team.objects.exists()
