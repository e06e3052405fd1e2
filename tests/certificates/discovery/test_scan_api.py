"""The scan API: profiles (checked targets, scan now), runs (202 on start, progress, cancel, resume), the reference's
aliases, and the error envelope for bad targets, unknown ids and state conflicts."""

from __future__ import annotations

import pytest

from certificates.discovery.models import ScanProfile, ScanRun
from tests.discovery_support import Pki, closed_port, tls_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_with_key(admin_client_with_key):
    """Profiles and ad hoc scans need the admin scope (tests/certctl/api/test_scope_matrix.py checks who may);
    these tests are about what the endpoints do."""
    return admin_client_with_key


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def test_an_adhoc_scan_answers_202_and_its_progress_shows_the_final_counts(
    client_with_key, pki, django_capture_on_commit_callbacks
):
    with (
        tls_server([pki.leaf("api.test"), pki.intermediate]) as port,
        django_capture_on_commit_callbacks(execute=True),
    ):
        started = client_with_key.post(
            "/api/v1/discovery/scans",
            {
                "targets": [f"127.0.0.1:{port}", f"127.0.0.1:{closed_port()}"],
                "timeout_ms": 2000,
                "concurrency": 4,
            },
            format="json",
        )
    assert started.status_code == 202, started.json()
    body = started.json()
    assert body["status"] == "queued" and body["targets_total"] == 2 and body["chunks_total"] == 1
    assert body["id"].startswith("dscan-") and body["profile_id"] is None

    progress = client_with_key.get(f"/api/v1/discovery/scans/{body['id']}").json()
    assert {k: progress[k] for k in ("status", "targets_done", "found", "new_certificates", "errors", "chunks_done")} == {
        "status": "completed", "targets_done": 2, "found": 1, "new_certificates": 1, "errors": 0, "chunks_done": 1,
    }  # fmt: skip
    assert progress["progress"] == 1.0 and progress["finished_at"].endswith("Z")


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"targets": ["10.0.0.0/8"]}, "targets", "a /8 is larger than the largest range scanned"),
        ({"targets": ["2001:db8::/48"]}, "targets", "IPv6 ranges are not scanned"),
        ({"targets": ["a.example"], "ports": [0]}, "ports", "not a port number"),
        ({"targets": ["a.example"], "ports": list(range(1, 40))}, "ports", "at most 32 ports"),
        ({}, "targets", "give profile_id, or targets"),
        ({"targets": ["a.example"], "concurrency": 0}, "concurrency", ""),
    ],
)
def test_bad_scan_requests_are_400_with_field_errors(client_with_key, payload, field, text):
    response = client_with_key.post("/api/v1/discovery/scans", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error" and field in body["fields"]
    assert text in " ".join(body["fields"][field])
    assert ScanRun.objects.count() == 0


def test_unknown_profile_or_run_is_404(client_with_key):
    assert (
        client_with_key.post(
            "/api/v1/discovery/scans", {"profile_id": "scanprof-nope"}, format="json"
        ).status_code
        == 404
    )
    assert client_with_key.post("/api/v1/discovery/profiles/scanprof-nope/scan").status_code == 404
    missing = client_with_key.get("/api/v1/discovery/scans/dscan-nope")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client_with_key.post("/api/v1/discovery/scans/dscan-nope/cancel").status_code == 404


def test_profiles_are_checked_on_save_and_scanned_on_demand(
    client_with_key, pki, django_capture_on_commit_callbacks
):
    bad = client_with_key.post(
        "/api/v1/discovery/profiles",
        {"name": "too big", "targets": ["10.0.0.0/8", "ok.example"]},
        format="json",
    )
    assert bad.status_code == 400 and "targets" in bad.json()["fields"]

    with tls_server([pki.leaf("profile.test"), pki.intermediate]) as port:
        created = client_with_key.post(
            "/api/v1/discovery/profiles",
            {"name": "dc1", "targets": ["127.0.20.0/30", f"127.0.0.1:{port}"], "ports": [port], "interval_minutes": 60,
             "concurrency": 8, "timeout_ms": 1000},
            format="json",
        )  # fmt: skip
        assert created.status_code == 201, created.json()
        profile = created.json()
        assert profile["targets_total"] == 5 and profile["id"].startswith("scanprof-")

        patched = client_with_key.patch(
            f"/api/v1/discovery/profiles/{profile['id']}", {"ports": [0]}, format="json"
        )
        assert patched.status_code == 400 and "ports" in patched.json()["fields"]

        with django_capture_on_commit_callbacks(execute=True):
            started = client_with_key.post(f"/api/v1/discovery/profiles/{profile['id']}/scan")
        assert started.status_code == 202
        run = started.json()
        assert run["profile_id"] == profile["id"] and run["profile_name"] == "dc1"

        with django_capture_on_commit_callbacks(execute=True):
            again = client_with_key.post(
                "/api/v1/discovery/scans", {"profile_id": profile["id"]}, format="json"
            )
        assert again.status_code == 202

    listed = client_with_key.get(
        "/api/v1/discovery/scans", {"profile_id": profile["id"], "status": "completed"}
    )
    assert listed.json()["total"] == 2
    assert {item["found"] for item in listed.json()["data"]} == {1}
    assert client_with_key.get("/api/v1/discovery-scans").json()["total"] == 2
    detail = client_with_key.get(f"/api/v1/discovery/profiles/{profile['id']}").json()
    assert detail["last_run_at"] and detail["next_run_at"]

    assert client_with_key.delete(f"/api/v1/discovery/profiles/{profile['id']}").status_code == 204
    assert ScanRun.objects.filter(profile_name="dc1").count() == 2  # runs outlive their profile


def test_a_second_run_of_a_profile_while_one_is_active_is_a_conflict(
    client_with_key, django_capture_on_commit_callbacks
):
    profile = ScanProfile.objects.create(name="busy", targets=["127.0.21.1:9"])
    with django_capture_on_commit_callbacks(execute=False):
        first = client_with_key.post(f"/api/v1/discovery/profiles/{profile.pk}/scan")
        second = client_with_key.post(f"/api/v1/discovery/profiles/{profile.pk}/scan")
    assert first.status_code == 202
    assert second.status_code == 409 and second.json()["error"] == "conflict"


def test_cancel_and_resume_through_the_api(client_with_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = client_with_key.post(
            "/api/v1/discovery/scans", {"targets": ["127.0.22.1:9"]}, format="json"
        ).json()
    cancelled = client_with_key.post(f"/api/v1/discovery/scans/{run['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with django_capture_on_commit_callbacks(execute=True):
        resumed = client_with_key.post(f"/api/v1/discovery/scans/{run['id']}/resume/")
    assert resumed.status_code == 202
    final = client_with_key.get(f"/api/v1/discovery/scans/{run['id']}").json()
    assert (final["status"], final["targets_done"]) == ("completed", 1)
    conflict = client_with_key.post(f"/api/v1/discovery/scans/{run['id']}/cancel")
    assert conflict.status_code == 409


def test_the_reference_alias_for_profiles_answers_like_the_profiles(client_with_key):
    created = client_with_key.post(
        "/api/v1/network-scan-targets", {"name": "alias", "targets": ["web.example:443"]}, format="json"
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert client_with_key.get(f"/api/v1/network-scan-targets/{pk}").json()["name"] == "alias"
    assert client_with_key.get("/api/v1/discovery/profiles").json()["data"][0]["id"] == pk


def test_the_scan_api_needs_a_key(api_client):
    assert api_client.get("/api/v1/discovery/scans").status_code == 401
    assert (
        api_client.post("/api/v1/discovery/scans", {"targets": ["a.example"]}, format="json").status_code
        == 401
    )
