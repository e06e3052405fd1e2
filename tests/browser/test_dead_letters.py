"""The dead-letter queue in the admin: an operator sees what could not be delivered and sends it again."""

from __future__ import annotations

from playwright.sync_api import expect

from audit.models import AuditEvent
from notifications.enums import Channel, NotificationStatus
from tests.browser.conftest import STAFF_USERNAME
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

DEAD_LETTERS = "/admin/notifications/deadletternotification/"
REQUEUE = "Requeue selected (failed or dead) notifications"


def test_requeue_action_delivers_a_dead_notification_and_empties_the_queue(page, settings, http_sink):
    point_channels_at(settings, http_sink)
    dead = NotificationEventFactory(
        channel=Channel.SLACK,
        status=NotificationStatus.DEAD,
        retry_count=5,
        last_error="HTTP 500 from the Slack webhook",
        message="Certificate legacy-vpn expired 3 days ago",
    )
    sent = NotificationEventFactory(status=NotificationStatus.SENT)

    page.goto(DEAD_LETTERS)

    expect(page.get_by_role("link", name=dead.id, exact=True)).to_be_visible()
    expect(page.get_by_text("HTTP 500 from the Slack webhook")).to_be_visible()
    expect(page.get_by_role("link", name=sent.id, exact=True)).to_have_count(0)  # delivered, so not listed

    page.locator(f"input[name='_selected_action'][value='{dead.id}']").check()
    page.locator("select[name='action']").select_option(label=REQUEUE)
    page.get_by_role("button", name="Go").click()

    expect(page.get_by_text("Requeued 1 notification(s).")).to_be_visible()
    expect(page.get_by_role("link", name=dead.id, exact=True)).to_have_count(0)
    assert http_sink.wait_for(1, path="/slack")
    assert "legacy-vpn expired" in http_sink.received("/slack")[0].body.decode()
    dead.refresh_from_db()
    assert (dead.status, dead.retry_count, dead.last_error) == (NotificationStatus.SENT, 0, None)
    assert AuditEvent.objects.get(action="notifications_requeued").actor == STAFF_USERNAME
