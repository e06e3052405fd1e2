"""Many workers at once, a worker killed mid-send, and the real Celery worker path (PostgreSQL + Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.utils import timezone

from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services import delivery
from notifications.services.outbox import enqueue
from tests import REPO_ROOT
from tests.notification_factories import NotificationEventFactory
from tests.sinks import LOOPBACK_NETWORKS, point_channels_at

ROOT = REPO_ROOT
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def webhook(settings, http_sink):
    point_channels_at(settings, http_sink)
    settings.WEBHOOK_SECRET = ""
    return http_sink


def _due_failed_rows(n: int) -> list[str]:
    now = timezone.now()
    rows = [
        NotificationEvent(
            channel=Channel.WEBHOOK,
            type="ExpirationWarning",
            message=f"row {i}",
            status=NotificationStatus.FAILED,
            retry_count=1,
            next_retry_at=now - timedelta(seconds=i % 60),
        )
        for i in range(n)
    ]
    NotificationEvent.objects.bulk_create(rows, batch_size=500)
    return [row.id for row in rows]


def test_four_workers_sweeping_a_thousand_due_rows_attempt_each_exactly_once(webhook):
    ids = _due_failed_rows(1000)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(delivery.retry_due(batch_size=25))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    attempts = Counter(request.json()["id"] for request in webhook.received("/webhook"))
    assert len(attempts) == 1000 and set(attempts) == set(ids)
    assert max(attempts.values()) == 1
    assert sum(r.claimed for r in results) == 1000 and sum(r.lost_claims for r in results) == 0
    assert sum(1 for r in results if r.claimed) > 1, "the work was shared between workers"
    assert NotificationEvent.objects.filter(status=NotificationStatus.SENT).count() == 1000
    assert NotificationEvent.objects.filter(claimed_until__isnull=False).count() == 0


def _subprocess_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CERTCTL_DEBUG="true",
        CERTCTL_DATA_DIR=str(django_settings.DATA_DIR),
        CERTCTL_WEBHOOK_URL=django_settings.WEBHOOK_URL,
        CERTCTL_NOTIFICATION_TIMEOUT="30s",
        CERTCTL_NOTIFICATION_LEASE_SECONDS="120",
        CERTCTL_NOTIFICATION_ALLOWED_NETWORKS=",".join(LOOPBACK_NETWORKS),
    )
    return env


def test_worker_killed_mid_delivery_leaves_the_row_to_be_retried_after_its_lease(webhook):
    if not django_settings.IS_POSTGRES:
        pytest.skip("needs PostgreSQL")
    event = NotificationEventFactory(channel=Channel.WEBHOOK)
    webhook.respond(200, path="/webhook", delay=60, times=1)  # the first delivery hangs
    code = f"from notifications.services.delivery import deliver_one; deliver_one({event.id!r})"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=_subprocess_env()
    )
    try:
        assert webhook.wait_for(1, timeout=60), "the worker never reached the sink"
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    event.refresh_from_db()
    assert event.status == NotificationStatus.PENDING and event.claimed_until is not None
    assert delivery.process_pending().claimed == 0, "the dead worker's lease still holds"
    with time_machine.travel(event.claimed_until + timedelta(seconds=1), tick=False):
        result = delivery.process_pending()
    assert (result.claimed, result.sent) == (1, 1)
    event.refresh_from_db()
    assert event.status == NotificationStatus.SENT and event.claimed_until is None
    assert webhook.count("/webhook") == 2  # at-least-once: delivered again after the crash


def test_real_celery_worker_delivers_after_commit(webhook):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run under scripts/with-services.sh)")
    from celery.contrib.testing.worker import start_worker

    from certctl.celery import app

    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        with transaction.atomic():
            event = enqueue(type="RenewalFailure", channel=Channel.WEBHOOK, message="renewal failed")
        assert webhook.wait_for(1, timeout=30, path="/webhook")
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while NotificationEvent.objects.get(pk=event.pk).status == NotificationStatus.PENDING:
            assert datetime.now(UTC) < deadline, "worker did not record the outcome"
            threading.Event().wait(0.05)
    event.refresh_from_db()
    assert event.status == NotificationStatus.SENT
    assert webhook.received("/webhook")[0].json()["id"] == event.id


def test_metrics_count_deliveries_made_by_other_processes(webhook, client):
    """/metrics in this process reports attempts made by two separate worker processes (values live in the DB)."""
    if not django_settings.IS_POSTGRES:
        pytest.skip("needs PostgreSQL")
    first, second = NotificationEventFactory.create_batch(2, channel=Channel.WEBHOOK)
    for event in (first, second):
        code = f"from notifications.services.delivery import deliver_one; deliver_one({event.id!r})"
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=_subprocess_env(),
            check=True,
            timeout=120,
        )
    assert webhook.count("/webhook") == 2
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    webhook = 'channel="Webhook",destination="Webhook (environment)"'
    assert f'certctl_notification_deliveries_total{{{webhook},result="sent"}} 2.0' in text
    assert f"certctl_notification_delivery_seconds_count{{{webhook}}} 2.0" in text
    assert 'certctl_notifications{status="sent"} 2.0' in text
