"""The after-commit publisher: committed rows reach a real worker in few broker messages, each row once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from celery.signals import before_task_publish
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services import publisher
from notifications.services.outbox import PendingEvent, enqueue, enqueue_many
from notifications.tasks import deliver_notifications
from tests.sinks import point_channels_at


@pytest.fixture
def webhook(settings, http_sink):
    point_channels_at(settings, http_sink)
    settings.WEBHOOK_SECRET = ""
    return http_sink


@pytest.mark.django_db
def test_batched_task_delivers_listed_rows_and_skips_rows_another_worker_holds(webhook):
    free = enqueue(type="RenewalSuccess", channel=Channel.WEBHOOK, message="free")
    held = NotificationEvent.objects.create(
        type="RenewalSuccess",
        channel=Channel.WEBHOOK,
        message="held",
        claimed_until=timezone.now() + timedelta(minutes=2),
    )
    result = deliver_notifications.delay([free.id, held.id]).get()
    assert result["sent"] == 1
    assert NotificationEvent.objects.get(pk=free.pk).status == NotificationStatus.SENT
    assert NotificationEvent.objects.get(pk=held.pk).status == NotificationStatus.PENDING
    assert webhook.count("/webhook") == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_commit_of_120_rows_is_published_as_three_messages_and_each_row_is_delivered_once(webhook):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run under scripts/with-services.sh)")
    from celery.contrib.testing.worker import start_worker

    from certctl.celery import app

    published: list[list[str]] = []

    def capture(sender=None, body=None, **kwargs):
        if sender == "notifications.deliver_notifications":
            published.append(body[0][0])

    before_task_publish.connect(capture, weak=False)
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            with transaction.atomic():
                rows = enqueue_many(
                    [
                        PendingEvent(type="RenewalSuccess", channel=Channel.WEBHOOK, message=f"row {i}")
                        for i in range(120)
                    ]
                )
            assert webhook.wait_for(120, timeout=60, path="/webhook")
            deadline = datetime.now(UTC) + timedelta(seconds=30)
            while NotificationEvent.objects.filter(status=NotificationStatus.SENT).count() < 120:
                assert datetime.now(UTC) < deadline, "worker did not record every outcome"
                threading.Event().wait(0.05)
    finally:
        before_task_publish.disconnect(capture)
    assert [len(ids) for ids in published] == [50, 50, 20]
    assert sorted(i for ids in published for i in ids) == sorted(r.id for r in rows)
    assert webhook.count("/webhook") == 120


@pytest.mark.django_db
def test_eager_mode_delivers_in_the_committing_thread(webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = enqueue(type="RenewalSuccess", channel=Channel.WEBHOOK, message="now")
    assert NotificationEvent.objects.get(pk=event.pk).status == NotificationStatus.SENT
    publisher.flush()  # nothing was queued for the thread
    assert webhook.count("/webhook") == 1
