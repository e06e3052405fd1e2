from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key


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
from tests.sinks import http_sink, smtp_sink  # noqa: E402, F401
