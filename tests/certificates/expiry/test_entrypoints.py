"""The ways an expiry check starts: beat schedule, Celery task, management command and the admin API."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

import certificates.tasks
from audit.models import AuditEvent
from certctl.celery import app
from certctl.schedules import register_periodic_tasks
from certificates.expiry.tasks import check_expiring
from notifications.models import NotificationEvent
from tests.expiry_helpers import FANOUT, NOW, cert_expiring_in, policy

pytestmark = pytest.mark.django_db


def test_task_is_registered_under_its_public_name_and_runs_the_check():
    cert_expiring_in(timedelta(days=3))
    # Autodiscovery imports certificates.tasks, which must bring the task in.
    assert certificates.tasks.expiry_tasks.check_expiring.name == "certificates.check_expiring"
    assert app.tasks["certificates.check_expiring"].name == check_expiring.name

    with time_machine.travel(NOW, tick=False):
        summary = check_expiring.delay().get()

    assert summary["alerts_created"] == {"Email": 1}
    assert NotificationEvent.objects.count() == 1


def test_beat_schedule_runs_the_check_every_renewal_check_interval(settings):
    register_periodic_tasks()

    task = PeriodicTask.objects.get(name="expiry-check")
    assert task.task == "certificates.check_expiring"
    assert task.interval.every == settings.RENEWAL_CHECK_INTERVAL == 3600
    assert task.enabled


def test_management_command_prints_the_summary():
    cert_expiring_in(timedelta(hours=10), policy(alert_channels=FANOUT), status="Active")
    cert_expiring_in(timedelta(days=-2), status="Active")
    opted_out = policy(alert_channels={"critical": ["Email"]})
    cert_expiring_in(timedelta(days=20), opted_out, status="Active")
    out = StringIO()

    with time_machine.travel(NOW, tick=False):
        call_command("check_expiring", stdout=out)
        call_command("check_expiring", stdout=StringIO())
        again = StringIO()
        call_command("check_expiring", stdout=again)

    assert out.getvalue().splitlines() == [
        "Certificates scanned: 3",
        "Status changes: 3 (Active -> Expired: 1, Active -> Expiring: 2)",
        "Alerts created: 5 (Email: 2, OpsGenie: 1, PagerDuty: 1, Slack: 1)",
        "Alerts deduplicated: 0",
        "Skipped: 1 with no channels for their tier, 0 to an unknown channel",
    ]
    assert "Alerts created: 0" in again.getvalue()
    assert "Alerts deduplicated: 5" in again.getvalue()


def test_admin_api_accepts_and_runs_the_check(admin_client_with_key):
    cert_expiring_in(timedelta(days=3))

    with time_machine.travel(NOW, tick=False):
        response = admin_client_with_key.post("/api/v1/admin/expiry-check")

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    assert response.json()["task"] == "certificates.check_expiring"
    assert NotificationEvent.objects.count() == 1
    requested = AuditEvent.objects.get(action="expiry_check_requested")
    assert requested.actor == "ops-admin"
    assert requested.actor_type == "User"


def test_admin_api_accepts_a_trailing_slash(admin_client_with_key):
    assert admin_client_with_key.post("/api/v1/admin/expiry-check/").status_code == 202


def test_admin_api_refuses_a_non_admin_key_with_the_error_envelope(client_with_key):
    response = client_with_key.post("/api/v1/admin/expiry-check")

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert not AuditEvent.objects.filter(action="expiry_check_requested").exists()


def test_admin_api_requires_a_key(api_client):
    response = api_client.post("/api/v1/admin/expiry-check")

    assert response.status_code == 401
    assert set(response.json()) >= {"error", "message", "request_id"}


def test_admin_api_only_accepts_post(admin_client_with_key):
    assert admin_client_with_key.get("/api/v1/admin/expiry-check").status_code == 405
