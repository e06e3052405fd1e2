"""The retry ladder end to end with a frozen clock: real sink, real PostgreSQL, the real sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from audit.models import AuditEvent
from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services import delivery, operator
from notifications.services.outbox import enqueue
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def slack(settings, http_sink):
    point_channels_at(settings, http_sink)
    return http_sink


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def _reload(event):
    event.refresh_from_db()
    return event


def test_five_transient_failures_walk_the_ladder_then_move_event_to_dead(slack, clock):
    slack.respond(503, path="/slack")
    event = NotificationEventFactory(channel=Channel.SLACK)
    assert delivery.deliver_one(event.id) == "failed"

    waits = []
    for attempt in range(2, 6):
        event = _reload(event)
        assert event.status == NotificationStatus.FAILED and event.retry_count == attempt - 1
        assert event.last_error == 'HTTP 503 from 127.0.0.1: {"ok":true}'
        waits.append(event.next_retry_at - datetime.now(UTC))
        # One second early the sweep leaves it alone; at the due time it makes exactly one attempt.
        clock.move_to(event.next_retry_at - timedelta(seconds=1))
        assert delivery.retry_due().claimed == 0
        clock.move_to(event.next_retry_at)
        assert delivery.retry_due().claimed == 1

    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8)]
    event = _reload(event)
    assert event.status == NotificationStatus.DEAD
    assert event.retry_count == 5 and event.next_retry_at is None and event.sent_at is None
    assert slack.count("/slack") == 5
    clock.shift(timedelta(days=1))
    assert delivery.retry_due().claimed == 0


def test_permanent_error_is_dead_after_one_attempt(slack):
    slack.respond(400, path="/slack", body="invalid_payload")
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    event = _reload(event)
    assert (event.status, event.retry_count, event.next_retry_at) == (NotificationStatus.DEAD, 1, None)
    assert event.last_error == "HTTP 400 from 127.0.0.1: invalid_payload"


def test_success_on_third_attempt_is_sent_with_retry_count_two(slack, clock):
    slack.respond(503, path="/slack", times=2)
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    for _ in range(2):
        clock.move_to(_reload(event).next_retry_at)
        delivery.retry_due()
    event = _reload(event)
    assert event.status == NotificationStatus.SENT
    assert event.retry_count == 2
    assert event.sent_at == datetime.now(UTC)
    assert event.next_retry_at is None and event.last_error is None
    assert slack.count("/slack") == 3


def test_retry_after_is_honoured_when_longer_than_the_backoff(slack, clock):
    slack.respond(429, path="/slack", headers={"Retry-After": "900"}, times=1)
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    assert _reload(event).next_retry_at == START + timedelta(seconds=900)


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it(slack, clock):
    slack.respond(503, path="/slack", headers={"Retry-After": "5"}, times=1)
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    assert _reload(event).next_retry_at == START + timedelta(seconds=60)


def test_retry_after_as_an_http_date_is_understood(slack, clock):
    slack.respond(503, path="/slack", headers={"Retry-After": "Sun, 01 Mar 2026 12:30:00 GMT"}, times=1)
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    assert _reload(event).next_retry_at == START + timedelta(minutes=30)


def test_configured_base_cap_and_budget_shape_the_ladder(slack, clock, settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATION_RETRY_CAP_SECONDS = 100
    settings.NOTIFICATION_MAX_ATTEMPTS = 4
    slack.respond(503, path="/slack")
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    waits = []
    while _reload(event).status == NotificationStatus.FAILED:
        waits.append((event.next_retry_at - datetime.now(UTC)).total_seconds())
        clock.move_to(event.next_retry_at)
        delivery.retry_due()
    assert waits == [30, 60, 100]
    assert (event.status, event.retry_count) == (NotificationStatus.DEAD, 4)


def test_timeout_is_a_transient_failure(slack, settings):
    settings.NOTIFICATION_TIMEOUT_SECONDS = 0.3
    slack.respond(200, path="/slack", delay=5)
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    event = _reload(event)
    assert event.status == NotificationStatus.FAILED and event.retry_count == 1
    assert event.last_error == "timed out after 0.3s waiting for 127.0.0.1"


def test_connection_refused_is_a_transient_failure(settings):
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/hooks/secret-token"
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    event = _reload(event)
    assert event.status == NotificationStatus.FAILED
    assert event.last_error == "connection error to 127.0.0.1: ConnectionError"


def test_requeue_of_a_dead_event_resets_it_to_pending_and_it_is_sent(
    slack, clock, django_capture_on_commit_callbacks
):
    slack.respond(400, path="/slack", times=1)
    event = NotificationEventFactory(channel=Channel.SLACK)
    delivery.deliver_one(event.id)
    assert _reload(event).status == NotificationStatus.DEAD

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        requeued = operator.requeue(event.id, actor="alice", actor_type="User")
    assert (requeued.status, requeued.retry_count, requeued.next_retry_at, requeued.last_error) == (
        NotificationStatus.PENDING,
        0,
        None,
        None,
    )
    for callback in callbacks:  # the on-commit fast path (Celery eager in unit tests)
        callback()
    event = _reload(event)
    assert event.status == NotificationStatus.SENT and event.retry_count == 0
    audit = AuditEvent.objects.get(action="notification_requeued")
    assert (audit.actor, audit.actor_type, audit.resource_id) == ("alice", "User", event.id)


def test_requeue_refuses_rows_that_are_not_failed_or_dead():
    event = NotificationEventFactory(status=NotificationStatus.SENT)
    with pytest.raises(operator.InvalidTransition):
        operator.requeue(event.id, actor="alice", actor_type="User")
    assert _reload(event).status == NotificationStatus.SENT


def test_enqueue_delivers_after_commit_through_the_task(slack, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = enqueue(type="RenewalSuccess", channel=Channel.SLACK, message="renewed", subject="Renewed")
        assert slack.count() == 0  # nothing leaves the building inside the transaction
    assert _reload(event).status == NotificationStatus.SENT
    assert slack.count("/slack") == 1


def test_pending_sweep_picks_up_rows_older_than_a_minute_only(slack, clock):
    old = NotificationEventFactory(channel=Channel.SLACK)
    clock.shift(timedelta(seconds=50))
    fresh = NotificationEventFactory(channel=Channel.SLACK)
    clock.shift(timedelta(seconds=15))
    result = delivery.process_pending()
    assert (result.claimed, result.sent) == (1, 1)
    assert _reload(old).status == NotificationStatus.SENT
    assert _reload(fresh).status == NotificationStatus.PENDING


def test_a_late_worker_cannot_overwrite_an_outcome_after_losing_its_claim(slack, clock):
    event = NotificationEventFactory(channel=Channel.SLACK)
    (claimed,) = delivery.claim_pending(datetime.now(UTC), 10, min_age_seconds=0)
    # The lease expires and a second worker delivers the row.
    clock.shift(timedelta(seconds=3600))
    assert delivery.process_pending().sent == 1
    # The first worker wakes up with a failure: its conditional update changes nothing.
    slack.respond(503, path="/slack")
    result = delivery.SweepResult()
    assert delivery.attempt(claimed, lambda: START, result) is None
    assert result.lost_claims == 1
    assert _reload(event).status == NotificationStatus.SENT
    assert NotificationEvent.objects.filter(claimed_until__isnull=False).count() == 0


def test_a_lease_shorter_than_the_timeout_gives_rows_back_instead_of_spinning(slack, settings):
    settings.NOTIFICATION_LEASE_SECONDS = 10
    settings.NOTIFICATION_TIMEOUT_SECONDS = 30
    event = NotificationEventFactory(channel=Channel.SLACK)
    result = delivery.process_pending(min_age_seconds=0)
    assert (result.claimed, result.released, result.sent) == (1, 1, 0)
    event = _reload(event)
    assert event.status == NotificationStatus.PENDING and event.claimed_until is None
    assert slack.count() == 0


def test_pending_sweep_takes_every_due_row_in_successive_batches(slack, clock):
    """Reference SRC-BUG: its pending processor silently stopped at 50 rows; ours drains every batch."""
    events = NotificationEventFactory.create_batch(120, channel=Channel.SLACK)
    clock.shift(timedelta(minutes=2))
    result = delivery.process_pending(batch_size=50)
    assert (result.claimed, result.sent) == (120, 120)
    assert slack.count("/slack") == 120
    assert NotificationEvent.objects.filter(pk__in=[e.pk for e in events], status="sent").count() == 120


def test_retry_sweep_claim_query_can_use_the_partial_retry_index(slack):
    """The retry sweep selects due failed rows through `notif_retry_sweep` (status=failed, next_retry_at set)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    NotificationEventFactory.create_batch(
        3, status=NotificationStatus.FAILED, retry_count=1, next_retry_at=START, channel=Channel.SLACK
    )
    with CaptureQueriesContext(connection) as queries:
        delivery.claim_due_retries(datetime.now(UTC), 10)
    (claim_sql,) = [q["sql"] for q in queries.captured_queries if "FOR UPDATE SKIP LOCKED" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + claim_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "notif_retry_sweep" in plan, plan
