import pytest


@pytest.mark.django_db
def test_health_answers_without_authentication(api_client):
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_unknown_api_path_gets_the_json_error_envelope(api_client):
    response = api_client.get("/api/v1/does-not-exist", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "Not found", "request_id": "req-123"}
