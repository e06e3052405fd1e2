"""A real Celery worker consumes from Redis and runs the heartbeat task end to end."""

from __future__ import annotations

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from certctl import tasks
from certctl.celery import app
from certctl.models import ProcessHeartbeat


def _close_worker_connections(**kwargs) -> None:
    connections.close_all()  # the worker thread's own connection, so the test database can be dropped


@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_heartbeat_task_and_the_heartbeat_row_appears():
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs REDIS_URL (run under scripts/with-services.sh)")
    app.conf.task_always_eager = False  # tests/conftest.py makes tasks eager; this test wants the real path
    app.conf.broker_url = redis_url
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
        ):
            tasks.heartbeat.delay()
            deadline = time.monotonic() + 30
            while not ProcessHeartbeat.objects.filter(kind=ProcessHeartbeat.Kind.WORKER).exists():
                assert time.monotonic() < deadline, "the worker did not run the heartbeat task"
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(_close_worker_connections)
    worker = ProcessHeartbeat.objects.get(kind=ProcessHeartbeat.Kind.WORKER)
    assert worker.hostname
