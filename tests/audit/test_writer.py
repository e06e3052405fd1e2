"""The production write path for API-call rows: buffered in-process, flushed in batches, nothing lost."""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services.verify import verify_chain
from audit.services.writer import writer
from tests import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = REPO_ROOT


@pytest.fixture
def queued(settings):
    settings.AUDIT_API_WRITE = "queue"
    settings.AUDIT_FLUSH_INTERVAL = 3600  # only a full batch, an explicit flush or exit writes
    settings.AUDIT_BATCH_SIZE = 10_000
    yield settings
    writer.stop()


def api_count() -> int:
    return AuditEvent.objects.filter(resource_type="api").count()


def test_requests_are_queued_then_written_in_one_batch(queued, client_with_key):
    for _ in range(30):
        assert client_with_key.get("/api/v1/audit?per_page=1").status_code == 200
    assert writer.pending == 30
    assert api_count() == 0
    assert writer.flush() == 30
    assert api_count() == 30
    assert verify_chain().ok


def test_the_writer_thread_flushes_a_full_batch_on_its_own(queued, client_with_key):
    queued.AUDIT_BATCH_SIZE = 10
    for _ in range(10):
        client_with_key.get("/api/v1/audit?per_page=1")
    deadline = time.monotonic() + 10
    while api_count() < 10 and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for another thread, not for time to pass
    assert api_count() == 10


def test_a_full_queue_makes_the_request_write_its_own_row(queued, client_with_key):
    queued.AUDIT_QUEUE_MAX = 3
    for _ in range(8):
        client_with_key.get("/api/v1/audit?per_page=1")
    assert writer.pending == 3
    assert api_count() == 5
    writer.flush()
    assert api_count() == 8
    assert verify_chain().ok


def test_a_failed_batch_stays_queued_and_is_written_later(queued, client_with_key, monkeypatch):
    from audit.services import chain

    for _ in range(4):
        client_with_key.get("/api/v1/audit?per_page=1")

    def database_down(events):
        raise ConnectionError("database unavailable")

    monkeypatch.setattr(chain, "insert_rows", database_down)
    with pytest.raises(ConnectionError):
        writer.flush()
    assert writer.pending == 4
    monkeypatch.undo()
    assert writer.flush() == 4
    assert api_count() == 4


def test_a_row_the_database_refuses_is_dropped_alone_and_never_holds_up_the_queue(queued, client_with_key):
    client_with_key.get("/api/v1/audit?per_page=1")
    assert writer.flush() == 1
    columns = ("id", "actor", "actor_type", "action", "resource_type", "resource_id", "details", "timestamp")
    already_written = AuditEvent.objects.filter(resource_type="api").values(*columns)[0]
    unstorable = {**already_written, "id": "audit-unstorable", "resource_id": "/api/v1/a\x00b"}
    writer.submit(unstorable)
    writer.submit(already_written)
    for _ in range(3):
        client_with_key.get("/api/v1/audit?per_page=1")
    assert writer.flush() == 3
    assert writer.pending == 0
    assert api_count() == 4
    assert not AuditEvent.objects.filter(id="audit-unstorable").exists()
    assert verify_chain().ok


def test_rows_still_queued_at_process_exit_are_written(user_key):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if connection.vendor != "postgresql":
        pytest.skip("the child process needs the test database by URL")
    script = (
        "import django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'certctl.settings')\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "from audit.services.writer import writer\n"
        "client = Client(HTTP_HOST='localhost', HTTP_AUTHORIZATION='Bearer ' + os.environ['KEY'])\n"
        "for _ in range(50):\n"
        "    assert client.get('/api/v1/audit?per_page=1').status_code == 200\n"
        "assert writer.pending == 50, writer.pending\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CERTCTL_DEBUG": "true",
        "KEY": user_key,
        "CERTCTL_AUDIT_API_WRITE": "queue",
        "CERTCTL_AUDIT_FLUSH_INTERVAL": "1h",
        "CERTCTL_AUDIT_BATCH_SIZE": "10000",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert api_count() == 50
    assert verify_chain().ok


def test_gunicorn_graceful_shutdown_writes_the_queued_rows(user_key):
    import signal
    import socket
    import urllib.request

    if connection.vendor != "postgresql":
        pytest.skip("the server process needs the test database by URL")
    db = connection.settings_dict
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CERTCTL_DEBUG": "true",
        "CERTCTL_AUDIT_API_WRITE": "queue",
        "CERTCTL_AUDIT_FLUSH_INTERVAL": "1h",
        "CERTCTL_AUDIT_BATCH_SIZE": "10000",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "certctl.wsgi:application",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "1",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        for _ in range(20):
            request = urllib.request.Request(f"{base}/api/v1/audit?per_page=1")
            request.add_header("Authorization", f"Bearer {user_key}")
            assert urllib.request.urlopen(request, timeout=10).status == 200
        assert api_count() == 0, "rows are still in the worker's queue"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert api_count() == 20, server.stderr.read().decode()[-2000:]
    assert verify_chain().ok
