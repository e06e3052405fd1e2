from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Transactional tests empty the database with one TRUNCATE of every table, which the audit table's
    no-truncate trigger (audit migration 0004) refuses: the test database lifts it. tests/audit/test_immutability.py
    turns it back on to prove it refuses."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_no_truncate")


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Unit tests run tasks in-process; tests of the worker path start a real worker instead."""
    from certctl.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def api_client() -> APIClient:
    return APIClient(HTTP_HOST="localhost")


@pytest.fixture
def user_key(db) -> str:
    return make_api_key("automation")[1]


@pytest.fixture
def admin_key(db) -> str:
    return make_api_key("ops-admin", is_admin=True)[1]


@pytest.fixture
def client_with_key(api_client, user_key) -> APIClient:
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_key}")
    return api_client


@pytest.fixture
def admin_client_with_key(api_client, admin_key) -> APIClient:
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    return api_client


# --- notifications stream: loopback sinks (tests/sinks.py) as fixtures for every test -------------------
from tests.sinks import LOOPBACK_NETWORKS, http_sink, smtp_sink  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _deliveries_may_reach_loopback_sinks(settings):
    """Every sink is on loopback, which production refuses; tests/notifications/test_ssrf.py takes this back."""
    settings.NOTIFICATION_ALLOWED_NETWORKS = LOOPBACK_NETWORKS


# --- audit stream -------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _audit_api_rows_stay_queued(settings):
    """API-call audit rows are queued as in production but not written during a test unless it asks for them.

    Writing them would add a query to every API request (query-count tests) and a second DB connection from the
    writer thread. tests/audit/ set `AUDIT_API_WRITE = "sync"` or flush the writer to see the rows.
    """
    from audit.services.writer import writer

    settings.AUDIT_FLUSH_INTERVAL = 3600
    settings.AUDIT_BATCH_SIZE = 10_000
    settings.AUDIT_QUEUE_MAX = 10_000
    yield
    writer.discard()


# perf stream: counts a test buffered in memory (certctl.kernel.counters.BufferedCounter) belong to that test's
# database; never write them into the next test's.
@pytest.fixture(autouse=True)
def _fresh_ocsp_rate_limit():
    """Each test starts with an empty per-address OCSP count (the whole suite comes from 127.0.0.1)."""
    from certificates.revocation.pki.rate_limit import limiter

    limiter.reset()


@pytest.fixture(autouse=True)
def _fresh_ocsp_memo():
    """Each test's database starts from the same epoch (rolled back): each test's OCSP memo starts empty."""
    from certificates.revocation.services import ocsp_memo

    ocsp_memo.reset()


@pytest.fixture(autouse=True)
def _discard_buffered_counters():
    from certctl.kernel import counters

    for counter in counters._buffered:
        counter._pending.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_throttle_counts(settings):
    """API throttle and OCSP counts live in the shared cache (Redis under scripts/with-services.sh), and the whole
    suite comes from 127.0.0.1: each test counts under a key prefix of its own, so none inherits another's 429s.
    (Admin login lockouts are rows in axes' tables, which each test's database rollback already clears.)"""
    import uuid

    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}
