"""End to end on a real Celery worker (Redis broker): the API starts a scan, the worker claims its chunks, probes
a loopback TLS server and records what it presented."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from certificates.discovery.models import DiscoveredCertificate, ScanRun
from tests.discovery_support import Pki, tls_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_api_scan_runs_on_a_worker_and_records_the_certificate(admin_client_with_key):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run under scripts/with-services.sh)")
    from celery.contrib.testing.worker import start_worker

    from certctl.celery import app

    pki = Pki()
    app.conf.task_always_eager = False
    with (
        tls_server([pki.leaf("worker.test"), pki.intermediate]) as port,
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30),
    ):
        response = admin_client_with_key.post(
            "/api/v1/discovery/scans",
            {"targets": [f"127.0.0.1:{port}", "127.0.40.0/29"], "ports": [port], "chunk_size": 4},
            format="json",
        )
        assert response.status_code == 202
        run_id = response.json()["id"]
        deadline = timezone.now() + timedelta(seconds=60)
        while not ScanRun.objects.filter(pk=run_id, status="completed").exists():
            assert timezone.now() < deadline, "the worker did not finish the scan"
            threading.Event().wait(0.05)

    run = ScanRun.objects.get(pk=run_id)
    assert (run.targets_total, run.targets_done, run.found, run.errors) == (9, 9, 1, 0)
    assert (run.chunks_total, run.chunks_done) == (3, 3)
    assert DiscoveredCertificate.objects.filter(common_name="worker.test").count() == 1
