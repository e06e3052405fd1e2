"""/api/v1/notifications: list with filters and real totals, get by id, requeue, bulk requeue, mark read."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from tests.factories import CertificateFactory
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db
URL = "/api/v1/notifications"


def test_list_requires_an_api_key(api_client):
    response = api_client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_list_filters_and_total_counts_every_matching_row(client_with_key):
    cert = CertificateFactory()
    NotificationEventFactory.create_batch(3, status=NotificationStatus.DEAD, channel=Channel.SLACK)
    NotificationEventFactory(status=NotificationStatus.DEAD, channel=Channel.EMAIL, certificate=cert)
    NotificationEventFactory(status=NotificationStatus.SENT, channel=Channel.SLACK)

    body = client_with_key.get(URL, {"status": "dead", "per_page": 2}).json()
    assert body["total"] == 4 and len(body["data"]) == 2 and body["per_page"] == 2
    assert client_with_key.get(URL, {"status": "dead", "channel": "Slack"}).json()["total"] == 3
    by_cert = client_with_key.get(URL, {"certificate_id": cert.id}).json()
    assert [row["certificate_id"] for row in by_cert["data"]] == [cert.id]
    assert client_with_key.get(URL, {"type": "RenewalSuccess"}).json()["total"] == 0


def test_list_rejects_an_unknown_status_with_400(client_with_key):
    response = client_with_key.get(URL, {"status": "lost"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_get_by_id_returns_the_row_and_404_for_unknown(client_with_key):
    event = NotificationEventFactory(
        status=NotificationStatus.FAILED, retry_count=2, last_error="HTTP 503 from x"
    )
    body = client_with_key.get(f"{URL}/{event.id}").json()
    assert body["id"] == event.id and body["status"] == "failed"
    assert body["retry_count"] == 2 and body["attempts"] == 2 and body["max_attempts"] == 5
    assert body["created_at"].endswith("Z")
    missing = client_with_key.get(f"{URL}/notif-missing")
    assert missing.status_code == 404 and missing.json()["message"] == "Notification not found"


def test_requeue_resets_a_dead_row_delivers_it_and_audits_the_actor(
    client_with_key, settings, http_sink, django_capture_on_commit_callbacks
):
    point_channels_at(settings, http_sink)
    event = NotificationEventFactory(
        status=NotificationStatus.DEAD, retry_count=5, last_error="HTTP 503 from x", channel=Channel.SLACK
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with_key.post(f"{URL}/{event.id}/requeue")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "requeued"
    assert body["notification"]["status"] == "pending" and body["notification"]["retry_count"] == 0
    assert body["notification"]["last_error"] is None and body["notification"]["next_retry_at"] is None
    event.refresh_from_db()
    assert event.status == NotificationStatus.SENT and http_sink.count("/slack") == 1
    audit = AuditEvent.objects.get(action="notification_requeued", resource_id=event.id)
    assert audit.actor == "automation" and audit.actor_type == "User"
    assert audit.details["previous"] == {"status": "dead", "retry_count": 5}


@pytest.mark.parametrize("status", ["pending", "sent", "read"])
def test_requeue_of_a_row_that_is_not_failed_or_dead_is_409(client_with_key, status):
    event = NotificationEventFactory(status=status)
    response = client_with_key.post(f"{URL}/{event.id}/requeue")
    assert response.status_code == 409 and response.json()["error"] == "conflict"
    event.refresh_from_db()
    assert event.status == status


def test_requeue_of_unknown_id_is_404(client_with_key):
    assert client_with_key.post(f"{URL}/notif-nope/requeue").status_code == 404


def test_bulk_requeue_by_status_and_channel_only_touches_matching_failed_or_dead_rows(client_with_key):
    dead_slack = NotificationEventFactory.create_batch(
        2, status=NotificationStatus.DEAD, channel=Channel.SLACK
    )
    dead_email = NotificationEventFactory(status=NotificationStatus.DEAD, channel=Channel.EMAIL)
    sent_slack = NotificationEventFactory(status=NotificationStatus.SENT, channel=Channel.SLACK)
    response = client_with_key.post(f"{URL}/requeue", {"status": "dead", "channel": "Slack"}, format="json")
    assert response.status_code == 200
    assert response.json()["count"] == 2 and set(response.json()["ids"]) == {e.id for e in dead_slack}
    statuses = dict(NotificationEvent.objects.values_list("id", "status"))
    assert {statuses[e.id] for e in dead_slack} == {"pending"}
    assert statuses[dead_email.id] == "dead" and statuses[sent_slack.id] == "sent"
    audit = AuditEvent.objects.get(action="notifications_requeued")
    assert audit.actor == "automation" and audit.details["count"] == 2


def test_bulk_requeue_by_ids_skips_rows_in_other_states(client_with_key):
    failed = NotificationEventFactory(status=NotificationStatus.FAILED)
    sent = NotificationEventFactory(status=NotificationStatus.SENT)
    response = client_with_key.post(f"{URL}/requeue/", {"ids": [failed.id, sent.id]}, format="json")
    assert response.json()["ids"] == [failed.id]


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "sent"}, {"channel": "Pigeon"}, {"ids": []}, {"ids": "notif-1"}, {"statuss": "dead"}],
)
def test_bulk_requeue_validates_its_body(client_with_key, body):
    response = client_with_key.post(f"{URL}/requeue", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_bulk_requeue_rejects_a_non_object_body(client_with_key):
    response = client_with_key.post(f"{URL}/requeue", [1, 2], format="json")
    assert response.status_code == 400


def test_mark_read_acknowledges_a_dead_row_and_refuses_a_pending_one(client_with_key):
    dead = NotificationEventFactory(status=NotificationStatus.DEAD)
    response = client_with_key.post(f"{URL}/{dead.id}/read")
    assert response.status_code == 200
    assert response.json()["status"] == "marked_as_read"
    assert response.json()["notification"]["status"] == "read"
    assert AuditEvent.objects.filter(action="notification_marked_read", resource_id=dead.id).count() == 1
    pending = NotificationEventFactory(status=NotificationStatus.PENDING)
    assert client_with_key.post(f"{URL}/{pending.id}/read").status_code == 409
    assert client_with_key.post(f"{URL}/notif-nope/read").status_code == 404


def test_bulk_requeue_schedules_delivery_of_every_requeued_row(
    client_with_key, settings, http_sink, django_capture_on_commit_callbacks
):
    point_channels_at(settings, http_sink)
    dead = NotificationEventFactory.create_batch(3, status=NotificationStatus.DEAD, channel=Channel.SLACK)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with_key.post(f"{URL}/requeue", {"status": "dead"}, format="json")
    assert response.status_code == 200 and response.json()["count"] == 3
    assert http_sink.count("/slack") == 3
    assert set(
        NotificationEvent.objects.filter(pk__in=[e.pk for e in dead]).values_list("status", flat=True)
    ) == {"sent"}


def test_mark_read_audit_names_the_actor(client_with_key):
    sent = NotificationEventFactory(status=NotificationStatus.SENT)
    assert client_with_key.post(f"{URL}/{sent.id}/read").status_code == 200
    audit = AuditEvent.objects.get(action="notification_marked_read", resource_id=sent.id)
    assert (audit.actor, audit.actor_type) == ("automation", "User")
    assert audit.details["previous"] == {"status": "sent"}
