"""/ready: 200 with heartbeat ages when the database and the broker answer, 503 (error envelope) when not."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from certctl.celery import app
from certctl.models import ProcessHeartbeat
from certctl.services import heartbeat


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_url():
    """Point the Celery app at another broker for one test, then put the real one back."""
    saved = app.conf.broker_url, app.conf.broker_transport_options

    def use(url: str, options: dict | None = None) -> None:
        app.conf.broker_url = url
        app.conf.broker_transport_options = options or {}

    yield use
    app.conf.broker_url, app.conf.broker_transport_options = saved


@pytest.mark.django_db
def test_ready_reports_worker_and_beat_heartbeat_ages(api_client):
    now = timezone.now()
    heartbeat.stamp(ProcessHeartbeat.Kind.WORKER, now=now - timedelta(seconds=12))
    heartbeat.stamp(ProcessHeartbeat.Kind.BEAT, now=now - timedelta(seconds=40))
    response = api_client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert (body["db"], body["broker"]) == ("reachable", "reachable")
    assert 12 <= body["worker_heartbeat_age_seconds"] < 20
    assert 40 <= body["beat_heartbeat_age_seconds"] < 48
    assert "error" not in body


@pytest.mark.django_db
def test_ready_without_heartbeats_says_never_seen(api_client):
    body = api_client.get("/ready").json()
    assert body["worker_heartbeat_age_seconds"] is None
    assert body["beat_heartbeat_age_seconds"] is None


@pytest.mark.django_db
def test_ready_is_503_with_the_error_envelope_when_the_broker_is_down(api_client, broker_url):
    broker_url(f"redis://127.0.0.1:{closed_port()}/0")
    response = api_client.get("/ready", HTTP_X_REQUEST_ID="ready-1")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["db"] == "reachable"
    assert body["broker"] != "reachable"
    assert body["error"] == "service_unavailable"
    assert body["message"] == "broker unreachable"
    assert body["request_id"] == "ready-1"


@pytest.mark.django_db
def test_embedded_filesystem_broker_is_ready_only_when_its_folder_is_writable(
    api_client, broker_url, tmp_path
):
    queue = tmp_path / "queue"
    queue.mkdir()
    broker_url("filesystem://", {"data_folder_in": str(queue), "data_folder_out": str(queue)})
    assert api_client.get("/ready").status_code == 200
    queue.rmdir()
    response = api_client.get("/ready")
    assert response.status_code == 503
    assert response.json()["message"] == "broker unreachable"


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_when_the_database_is_down(api_client):
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
    try:
        response = api_client.get("/ready")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["db"] == "OperationalError"
    assert body["message"] == "database unreachable"
    assert body["worker_heartbeat_age_seconds"] is None


@pytest.mark.django_db
def test_check_heartbeat_command_fails_when_the_process_is_silent():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no beat heartbeat yet"):
        call_command("check_heartbeat", "beat")
    heartbeat.stamp(ProcessHeartbeat.Kind.BEAT, now=timezone.now() - timedelta(seconds=500))
    with pytest.raises(CommandError, match="beat heartbeat is 50"):
        call_command("check_heartbeat", "beat", "--max-age", "120")
    heartbeat.stamp(ProcessHeartbeat.Kind.BEAT)
    call_command("check_heartbeat", "beat", "--max-age", "120")
