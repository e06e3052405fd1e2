"""The outbox: rows written with their cause, delivered after commit, once, whatever the broker does."""

from __future__ import annotations

import pytest
from django.db import transaction

from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.delivery import deliver_one
from notifications.services.outbox import enqueue
from notifications.tasks import deliver_notification
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(settings, http_sink):
    point_channels_at(settings, http_sink)
    return http_sink


class Boom(Exception):
    pass


def test_a_rolled_back_change_leaves_no_row_and_sends_nothing(slack, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        enqueue(type="Revocation", channel=Channel.SLACK, message="revoked")
        raise Boom
    assert callbacks == []
    assert NotificationEvent.objects.count() == 0 and slack.count() == 0


def test_a_duplicated_task_message_delivers_once(slack):
    event = NotificationEvent.objects.create(type="Revocation", channel=Channel.SLACK, message="revoked")
    deliver_notification.delay(event.id)
    deliver_notification.delay(event.id)  # the broker redelivered it (acks_late)
    assert deliver_one(event.id) is None
    event.refresh_from_db()
    assert event.status == NotificationStatus.SENT and slack.count("/slack") == 1


def test_dedup_key_makes_a_second_enqueue_a_no_op(slack, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = enqueue(
            type="ExpirationWarning", channel=Channel.SLACK, message="7 days", dedup_key="cert-1:7:Slack"
        )
        second = enqueue(
            type="ExpirationWarning", channel=Channel.SLACK, message="7 days", dedup_key="cert-1:7:Slack"
        )
    assert first is not None and second is None
    assert NotificationEvent.objects.count() == 1 and slack.count("/slack") == 1


def test_a_row_for_an_unknown_channel_is_dead_not_lost():
    event = NotificationEvent.objects.create(type="Revocation", channel="Pigeon", message="coo")
    assert deliver_one(event.id) == "dead"
    event.refresh_from_db()
    assert event.last_error == "unknown channel 'Pigeon'"
