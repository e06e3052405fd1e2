"""Operator tools: the admin's two views, requeue action and test send; the management commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.test", "pw-ops-123")
    client.force_login(user)
    return client


def test_all_view_lists_every_row_with_attempts_and_error_on_hover(staff):
    long_error = "HTTP 503 from hooks.slack.com: " + "x" * 200
    NotificationEventFactory(status=NotificationStatus.FAILED, retry_count=2, last_error=long_error)
    NotificationEventFactory(status=NotificationStatus.SENT, retry_count=1, sent_at=timezone.now())
    page = staff.get("/admin/notifications/notificationevent/").content.decode()
    assert page.count("Attempt 2/5") == 2  # failed after 2 attempts; sent on attempt 2
    assert f'title="{long_error}"' in page
    assert "Send test notification" in page


def test_dead_letter_view_shows_only_dead_rows(staff):
    dead = NotificationEventFactory(status=NotificationStatus.DEAD, recipient="dead@example.test")
    NotificationEventFactory(status=NotificationStatus.FAILED, recipient="alive@example.test")
    page = staff.get("/admin/notifications/deadletternotification/").content.decode()
    assert dead.id in page and "dead@example.test" in page
    assert "alive@example.test" not in page


def test_requeue_selected_action_requeues_failed_and_dead_and_audits_the_user(staff):
    dead = NotificationEventFactory(status=NotificationStatus.DEAD, retry_count=5)
    sent = NotificationEventFactory(status=NotificationStatus.SENT)
    response = staff.post(
        "/admin/notifications/deadletternotification/",
        {"action": "requeue_selected", "_selected_action": [dead.id, sent.id]},
        follow=True,
    )
    assert "Requeued 1 notification(s)." in response.content.decode()
    dead.refresh_from_db()
    sent.refresh_from_db()
    assert (dead.status, dead.retry_count) == (NotificationStatus.PENDING, 0)
    assert sent.status == NotificationStatus.SENT
    assert AuditEvent.objects.get(action="notifications_requeued").actor == "ops"


def test_admin_cannot_delete_a_notification(staff):
    event = NotificationEventFactory()
    assert (
        staff.post(f"/admin/notifications/notificationevent/{event.id}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert NotificationEvent.objects.filter(pk=event.id).exists()


def test_send_test_notification_page_sends_through_the_chosen_channel(staff, settings, http_sink):
    point_channels_at(settings, http_sink)
    page = staff.get("/admin/notifications/notificationevent/send-test/").content.decode()
    assert "PagerDuty" in page and "OpsGenie" in page
    response = staff.post(
        "/admin/notifications/notificationevent/send-test/", {"channel": "Slack"}, follow=True
    )
    assert "Slack: delivered" in response.content.decode()
    assert http_sink.received("/slack")[0].json()["text"].startswith("*certctl test notification*")
    http_sink.respond(503, path="/teams")
    response = staff.post(
        "/admin/notifications/notificationevent/send-test/", {"channel": "Teams"}, follow=True
    )
    assert "Teams: HTTP 503 from 127.0.0.1" in response.content.decode()
    assert NotificationEvent.objects.count() == 0  # a test send writes no outbox row


def test_process_and_retry_commands_print_their_counts(settings, http_sink):
    point_channels_at(settings, http_sink)
    old = timezone.now() - timedelta(minutes=5)
    pending = NotificationEventFactory(channel=Channel.SLACK)
    NotificationEvent.objects.filter(pk=pending.pk).update(created_at=old)
    NotificationEventFactory(
        channel=Channel.SLACK, status=NotificationStatus.FAILED, retry_count=1, next_retry_at=old
    )

    from io import StringIO

    out = StringIO()
    call_command("process_notifications", stdout=out)
    assert out.getvalue().strip() == "claimed=1 sent=1 failed=0 dead=0 released=0 lost_claims=0"
    out = StringIO()
    call_command("retry_notifications", stdout=out)
    assert out.getvalue().strip() == "claimed=1 sent=1 failed=0 dead=0 released=0 lost_claims=0"
    assert NotificationEvent.objects.filter(status=NotificationStatus.SENT).count() == 2


def test_send_test_notification_command_reports_success_and_failure(settings, smtp_sink, capsys):
    point_channels_at(settings, smtp=smtp_sink)
    call_command("send_test_notification", "email", "--to", "ops@example.test")
    assert smtp_sink.messages[0]["To"] == "ops@example.test"
    settings.SLACK_WEBHOOK_URL = ""
    with pytest.raises(CommandError, match="channel Slack is not configured"):
        call_command("send_test_notification", "slack")
    with pytest.raises(CommandError, match="unknown channel"):
        call_command("send_test_notification", "pigeon")


def test_sweeps_are_registered_as_beat_schedules(settings):
    from django_celery_beat.models import PeriodicTask

    from certctl.schedules import register_periodic_tasks

    register_periodic_tasks()  # what the post-migrate hook runs (idempotent)
    tasks = dict(PeriodicTask.objects.values_list("name", "task"))
    assert tasks["notifications: process pending"] == "notifications.process_pending"
    assert tasks["notifications: retry failed"] == "notifications.retry_failed"
    retry = PeriodicTask.objects.get(name="notifications: retry failed")
    assert retry.interval.every == 120 and retry.interval.period == "seconds"


def test_a_dead_notification_page_has_requeue_and_no_save(
    staff, http_sink, settings, django_capture_on_commit_callbacks
):
    point_channels_at(settings, http_sink)
    event = NotificationEventFactory(
        channel=Channel.WEBHOOK, status=NotificationStatus.DEAD, last_error="HTTP 500"
    )
    page_url = f"/admin/notifications/deadletternotification/{event.pk}/change/"
    page = staff.get(page_url).content.decode()
    requeue_url = f"/admin/notifications/deadletternotification/{event.pk}/requeue/"
    assert f'action="{requeue_url}"' in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert staff.get(requeue_url).status_code == 405  # a state change is a POST

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(requeue_url)
    assert response.status_code == 302 and response["Location"] == page_url
    event.refresh_from_db()
    assert event.status == NotificationStatus.SENT  # requeued and delivered at once (eager tasks)
    assert http_sink.count("/webhook") == 1
    assert AuditEvent.objects.filter(
        action="notification_requeued", resource_id=event.pk, actor="ops"
    ).exists()


def test_mark_read_button_acknowledges_a_sent_notification_and_refuses_a_pending_one(staff):
    sent = NotificationEventFactory(status=NotificationStatus.SENT)
    pending = NotificationEventFactory(status=NotificationStatus.PENDING)
    base = "/admin/notifications/notificationevent"
    assert f"{base}/{pending.pk}/mark-read/" not in staff.get(f"{base}/{pending.pk}/change/").content.decode()
    staff.post(f"{base}/{sent.pk}/mark-read/")
    refused = staff.post(f"{base}/{pending.pk}/mark-read/", follow=True)
    sent.refresh_from_db()
    pending.refresh_from_db()
    assert (sent.status, pending.status) == (NotificationStatus.READ, NotificationStatus.PENDING)
    assert "cannot mark as read" in " ".join(str(m) for m in refused.context["messages"])


def test_the_list_links_each_notification_to_its_certificate(staff):
    from tests.factories import CertificateFactory

    cert = CertificateFactory(name="checkout-web")
    NotificationEventFactory(certificate=cert)
    page = staff.get("/admin/notifications/notificationevent/").content.decode()
    assert f'href="/admin/certificates/managedcertificate/{cert.pk}/change/">checkout-web</a>' in page
