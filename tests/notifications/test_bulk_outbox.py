"""`enqueue_many`, the one bulk notification writer (expiry alerts, revocations): the database's unique dedup_key
decides which keyed events a bulk write created; events without a key are always created."""

import threading

import pytest
from django.db import connection, transaction

from notifications.models import NotificationEvent
from notifications.services.outbox import PendingEvent, enqueue_many


def _event(key: str, channel: str = "Slack") -> PendingEvent:
    return PendingEvent(type="ExpirationWarning", channel=channel, message=f"alert {key}", dedup_key=key)


@pytest.mark.django_db
def test_returns_only_the_events_it_created_and_skips_existing_keys():
    first = enqueue_many([_event("k1"), _event("k2")])
    second = enqueue_many([_event("k2"), _event("k3"), _event("k3", channel="Email")])

    assert [e.dedup_key for e in first] == ["k1", "k2"]
    assert [(e.dedup_key, e.channel) for e in second] == [("k3", "Slack")]
    assert sorted(NotificationEvent.objects.values_list("dedup_key", "status")) == [
        ("k1", "pending"),
        ("k2", "pending"),
        ("k3", "pending"),
    ]
    assert NotificationEvent.objects.get(dedup_key="k3").id == second[0].id


@pytest.mark.django_db
def test_schedules_delivery_of_created_events_only_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue_many([_event("k1")])
        enqueue_many([_event("k1")])
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_empty_batch_writes_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert enqueue_many([]) == []


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_writer_of_the_same_keys_waits_and_then_creates_nothing():
    inserted, release = threading.Event(), threading.Event()
    outcome = {}

    def first_writer() -> None:
        try:
            with transaction.atomic():
                outcome["first"] = enqueue_many([_event("race-1"), _event("race-2")])
                inserted.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def second_writer() -> None:
        try:
            outcome["second"] = enqueue_many([_event("race-2"), _event("race-3")])
        finally:
            connection.close()

    first = threading.Thread(target=first_writer)
    first.start()
    assert inserted.wait(timeout=30)
    second = threading.Thread(target=second_writer)
    second.start()
    second.join(timeout=1)
    assert second.is_alive(), "the second writer must wait for the first one's uncommitted key"
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert [e.dedup_key for e in outcome["first"]] == ["race-1", "race-2"]
    assert [e.dedup_key for e in outcome["second"]] == ["race-3"]
    assert NotificationEvent.objects.count() == 3


@pytest.mark.django_db
def test_bulk_rows_match_what_the_single_row_outbox_writes():
    from notifications.services.outbox import enqueue

    single = enqueue(type="ExpirationWarning", channel="Slack", message="alert", dedup_key="one")
    [bulk] = enqueue_many([_event("two")])

    fields = [
        f.attname
        for f in NotificationEvent._meta.concrete_fields
        if f.attname not in {"id", "dedup_key", "message"}
    ]
    single_row = NotificationEvent.objects.filter(pk=single.pk).values(*fields).get()
    bulk_row = NotificationEvent.objects.filter(pk=bulk.id).values(*fields).get()
    assert bulk_row.pop("created_at") is not None
    assert bulk_row.pop("updated_at") is not None
    single_row.pop("created_at")
    single_row.pop("updated_at")
    assert bulk_row == single_row


@pytest.mark.django_db
def test_events_without_a_key_are_always_created_beside_deduplicated_ones(django_capture_on_commit_callbacks):
    """Revocation notifications carry no key: two identical ones are two rows, in one statement with keyed ones."""
    plain = [PendingEvent(type="Revocation", channel="Email", message="revoked") for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = enqueue_many([_event("k1"), *plain, _event("k1"), _event("k2")])
    assert [e.dedup_key for e in created] == ["k1", None, None, "k2"]
    assert NotificationEvent.objects.filter(type="Revocation", dedup_key__isnull=True).count() == 2
    assert NotificationEvent.objects.count() == 4
    assert len(callbacks) == 1

    again = enqueue_many([_event("k2"), *[PendingEvent(type="Revocation", channel="Email", message="x")]])
    assert [e.dedup_key for e in again] == [None]


@pytest.mark.django_db
@pytest.mark.parametrize("deliver_first, scheduled", [(0, 0), (2, 2), (500, 3)])
def test_only_the_first_deliver_first_events_are_handed_to_the_publisher(
    monkeypatch, django_capture_on_commit_callbacks, deliver_first, scheduled
):
    from notifications.services import publisher

    handed: list[str] = []
    monkeypatch.setattr(publisher, "publish", handed.extend)
    with django_capture_on_commit_callbacks(execute=True):
        created = enqueue_many([_event("a"), _event("b"), _event("c")], deliver_first=deliver_first)
    assert handed == [e.id for e in created][:scheduled]
    assert NotificationEvent.objects.filter(status="pending").count() == 3


@pytest.mark.django_db
def test_a_bool_for_deliver_first_is_refused_before_anything_is_written():
    with pytest.raises(TypeError, match="not a bool"):
        enqueue_many([_event("a")], deliver_first=True)
    assert not NotificationEvent.objects.exists()
