"""Admin login lockout (django-axes) per user name and per address, and failed logins in the audit trail."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEvent

LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def operator(db, settings):
    settings.AXES_FAILURE_LIMIT = 3
    return get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True)


def login(username: str, password: str, address: str):
    client = Client()
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)
    return response, client


def test_a_user_name_is_locked_after_the_limit_of_failures_from_any_addresses(operator):
    for n in range(3):
        login("operator", "wrong", f"10.0.0.{n + 1}")

    response, client = login("operator", PASSWORD, "10.0.0.99")

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert client.get("/admin/").status_code == 302  # not logged in: back to the login page


def test_an_address_is_locked_after_the_limit_of_failures_whatever_the_user_names(operator):
    for name in ("alice", "bob", "carol"):
        login(name, "wrong", "10.0.1.1")

    assert login("operator", PASSWORD, "10.0.1.1")[0].status_code == 429
    response, client = login("operator", PASSWORD, "10.0.1.2")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_failures_under_the_limit_lock_nothing(operator):
    for _ in range(2):
        assert login("operator", "wrong", "10.0.2.1")[0].status_code == 200  # the form again, with its error

    assert login("operator", PASSWORD, "10.0.2.1")[0].status_code == 302


def test_a_failed_login_is_audited_with_user_name_and_address_never_the_password(operator):
    login("operator", "hunter2-not-it", "10.0.3.7")

    event = AuditEvent.objects.get(action="login_failed")
    assert event.details == {"username": "operator", "address": "10.0.3.7"}
    assert event.actor == "operator" and event.resource_id == "operator"
    row = str(AuditEvent.objects.filter(pk=event.pk).values().get())
    assert "hunter2" not in row and "*****" not in row


def test_a_locked_out_attempt_is_audited_too(operator):
    for n in range(4):
        login("operator", "wrong", f"10.0.4.{n + 1}")

    assert AuditEvent.objects.filter(action="login_failed", resource_id="operator").count() == 4
