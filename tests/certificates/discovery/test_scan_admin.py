"""Scan admin pages: profiles (targets checked on save, "Scan now"), runs (progress, chunks, cancel, resume), chunks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.discovery.models import ScanChunk, ScanProfile, ScanRun
from certificates.discovery.services import scans
from tests.discovery_support import Pki, tls_server

pytestmark = pytest.mark.django_db


def test_a_profile_with_a_too_large_range_is_refused_and_a_good_one_saved(admin_client):
    url = reverse("admin:certificates_scanprofile_add")
    form = {"name": "lab", "targets": "10.0.0.0/8\nweb.example:443", "ports": "443", "concurrency": 16,
            "timeout_ms": 2000, "chunk_size": 256, "enabled": "on"}  # fmt: skip
    refused = admin_client.post(url, form)
    assert refused.status_code == 200
    assert "larger than the largest range scanned" in refused.content.decode()
    assert not ScanProfile.objects.exists()

    form["targets"] = "10.0.0.0/24\nweb.example:8443\n\n"
    form["ports"] = "443, 8443"
    saved = admin_client.post(url, form)
    assert saved.status_code == 302
    profile = ScanProfile.objects.get(name="lab")
    assert (profile.targets, profile.ports) == (["10.0.0.0/24", "web.example:8443"], [443, 8443])
    page = admin_client.get(
        reverse("admin:certificates_scanprofile_change", args=[profile.pk])
    ).content.decode()
    assert "10.0.0.0/24\nweb.example:8443" in page and "443, 8443" in page


def test_scan_now_then_cancel_and_resume_from_the_run_list(admin_client, django_capture_on_commit_callbacks):
    pki = Pki()
    with tls_server([pki.leaf("admin.test"), pki.intermediate]) as port:
        profile = ScanProfile.objects.create(name="admin scan", targets=[f"127.0.0.1:{port}", "127.0.30.0/31"],
                                             ports=[port], timeout_ms=1000)  # fmt: skip
        with django_capture_on_commit_callbacks(execute=False):
            response = admin_client.post(
                reverse("admin:certificates_scanprofile_changelist"),
                {"action": "scan_now", "_selected_action": [profile.pk]},
                follow=True,
            )
        run = ScanRun.objects.get(profile=profile)
        assert f"run {run.pk} started" in response.content.decode()

        runs_url = reverse("admin:certificates_scanrun_changelist")
        admin_client.post(runs_url, {"action": "cancel_runs", "_selected_action": [run.pk]})
        run.refresh_from_db()
        assert run.status == "cancelled"
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(runs_url, {"action": "resume_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert (run.status, run.targets_done, run.found) == ("completed", 3, 1)

    page = admin_client.get(reverse("admin:certificates_scanrun_change", args=[run.pk])).content.decode()
    assert "3 / 3 (100%), chunks 2/2" in page
    assert f"127.0.0.1:{port}" in page and "127.0.30.0 - 127.0.30.1 on" in page  # its chunks, read-only
    chunk = ScanChunk.objects.filter(run=run).first()
    chunk_page = admin_client.get(reverse("admin:certificates_scanchunk_change", args=[chunk.pk]))
    assert chunk_page.status_code == 200
    assert admin_client.get(reverse("admin:certificates_scanchunk_add")).status_code == 403
    assert admin_client.get(reverse("admin:certificates_scanrun_add")).status_code == 403


def test_a_range_chunk_is_described_by_its_first_and_last_address(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = scans.start_adhoc_run(["192.0.2.0/24"], [443, 8443], scans.ScanSettings(chunk_size=256))
    page = admin_client.get(reverse("admin:certificates_scanrun_change", args=[run.pk])).content.decode()
    assert "192.0.2.0 - 192.0.2.127 on 443,8443 (256 targets)" in page
    assert admin_client.get(reverse("admin:certificates_scanchunk_changelist")).status_code == 200
