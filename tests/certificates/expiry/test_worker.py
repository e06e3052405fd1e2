"""End to end on a real Celery worker (Redis broker): the admin API queues the check, the worker runs it and
then delivers the alerts it created to the channels."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from notifications.models import NotificationEvent
from tests.expiry_helpers import policy
from tests.factories import CertificateFactory
from tests.sinks import point_channels_at

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_admin_api_check_runs_on_a_worker_and_its_alerts_are_delivered(
    admin_client_with_key, settings, http_sink
):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run under scripts/with-services.sh)")
    from celery.contrib.testing.worker import start_worker

    from certctl.celery import app

    point_channels_at(settings, http_sink)
    slack_only = policy(
        alert_thresholds_days=[30, 7], alert_channels={"informational": ["Slack"], "warning": ["Slack"]}
    )
    cert = CertificateFactory(expires_at=timezone.now() + timedelta(days=3), renewal_policy=slack_only)

    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        response = admin_client_with_key.post("/api/v1/admin/expiry-check")
        assert response.status_code == 202
        assert http_sink.wait_for(1, timeout=60, path="/slack")
        deadline = timezone.now() + timedelta(seconds=30)
        while NotificationEvent.objects.filter(certificate=cert, status="sent").count() < 1:
            assert timezone.now() < deadline, "worker did not record the deliveries"
            threading.Event().wait(0.05)

    cert.refresh_from_db()
    assert cert.status == "Expiring"
    # 30 and 7 have both fired; Slack gets one message, for the most urgent (30 is implied).
    assert list(
        NotificationEvent.objects.filter(certificate=cert).values_list("threshold_days", flat=True)
    ) == [7]
    assert http_sink.count("/slack") == 1
