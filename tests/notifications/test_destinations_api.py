"""/api/v1/destinations: CRUD with write-only secrets, SSRF-checked URLs, read-only environment destinations,
409 for a destination a policy uses, `POST .../test`; per-destination stats and requeue."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from notifications.enums import Channel, NotificationStatus
from notifications.models import Destination, NotificationEvent
from tests.factories import RenewalPolicyFactory, TeamFactory
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db
URL = "/api/v1/destinations"
SLACK_TOKEN = "/slack/T0DEST/B0DEST/destinationtokensecret"
HMAC = "hmac-secret-for-a-destination"


def slack_body(http_sink, **extra) -> dict:
    return {
        "name": "payments-slack",
        "kind": "slack",
        "config": {"channel": "#payments"},
        "secrets": {"webhook_url": http_sink.url_for(SLACK_TOKEN)},
        **extra,
    }


def create(client, body: dict) -> dict:
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_read_update_delete_round_trip(admin_client_with_key, http_sink):
    team = TeamFactory()
    created = create(
        admin_client_with_key, slack_body(http_sink, team_id=team.id, tiers=["critical"], enabled=False)
    )
    assert created["id"].startswith("dest-") and created["source"] == "admin"
    assert created["config"] == {"channel": "#payments"} and created["team_id"] == team.id
    assert created["secrets_set"] == ["webhook_url"] and created["url_host"] == "127.0.0.1"
    assert created["tiers"] == ["critical"] and created["enabled"] is False and created["configured"] is True
    assert created["created_at"].endswith("Z")

    url = f"{URL}/{created['id']}"
    assert admin_client_with_key.get(url).json() == created
    listed = admin_client_with_key.get(URL, {"source": "admin"}).json()
    assert [row["id"] for row in listed["data"]] == [created["id"]]

    changed = admin_client_with_key.patch(
        url, {"enabled": True, "config": {"username": "certctl"}}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["enabled"] is True
    assert changed.json()["config"] == {"channel": "#payments", "username": "certctl"}

    assert admin_client_with_key.delete(url).status_code == 204
    assert admin_client_with_key.get(url).status_code == 404
    actions = list(
        AuditEvent.objects.filter(resource_id=created["id"])
        .order_by("timestamp")
        .values_list("action", flat=True)
    )
    assert actions == ["destination_created", "destination_updated", "destination_deleted"]


def test_secrets_never_appear_in_a_response_or_an_audit_row(admin_client_with_key, http_sink):
    body = {
        "name": "hook",
        "kind": "webhook",
        "secrets": {"url": http_sink.url_for("/hook/tokensecretpath?key=querysecret"), "hmac_secret": HMAC},
    }
    created = create(admin_client_with_key, body)
    url = f"{URL}/{created['id']}"
    patched = admin_client_with_key.patch(
        url, {"secrets": {"hmac_secret": "a-new-hmac-secret"}}, format="json"
    )
    pages = [
        json.dumps(created),
        json.dumps(patched.json()),
        admin_client_with_key.get(url).content.decode(),
        admin_client_with_key.get(URL).content.decode(),
    ]
    audits = json.dumps(list(AuditEvent.objects.filter(resource_id=created["id"]).values("details")))
    for text in [*pages, audits]:
        for secret in ("tokensecretpath", "querysecret", HMAC, "a-new-hmac-secret"):
            assert secret not in text
    assert created["secrets_set"] == ["hmac_secret", "url"]
    update = AuditEvent.objects.get(action="destination_updated", resource_id=created["id"])
    assert update.details["changed"] == ["secrets.hmac_secret"]
    assert update.details["write_only_settings"] == ["hmac_secret", "url"]


def test_patch_keeps_secrets_left_out_and_null_clears_an_optional_one(admin_client_with_key, http_sink):
    body = {
        "name": "hook",
        "kind": "webhook",
        "secrets": {"url": http_sink.url_for("/hook"), "hmac_secret": HMAC},
    }
    created = create(admin_client_with_key, body)
    url = f"{URL}/{created['id']}"
    renamed = admin_client_with_key.patch(url, {"name": "renamed"}, format="json").json()
    assert renamed["name"] == "renamed" and renamed["secrets_set"] == ["hmac_secret", "url"]
    cleared = admin_client_with_key.patch(url, {"secrets": {"hmac_secret": None}}, format="json").json()
    assert cleared["secrets_set"] == ["url"]

    required = admin_client_with_key.patch(url, {"secrets": {"url": None}}, format="json")
    assert required.status_code == 400
    assert required.json()["fields"] == {"secrets.url": ["required"]}
    other_kind = admin_client_with_key.patch(url, {"kind": "slack"}, format="json")
    assert other_kind.status_code == 400 and "kind" in other_kind.json()["fields"]
    assert Destination.objects.get(pk=created["id"]).kind == "webhook"


@pytest.mark.parametrize(
    "address", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/hook", "http://[::1]/x"]
)
def test_a_url_the_ssrf_rules_refuse_is_a_400_naming_the_field(admin_client_with_key, settings, address):
    settings.NOTIFICATION_ALLOWED_NETWORKS = []
    response = admin_client_with_key.post(
        URL, {"name": "inner", "kind": "slack", "secrets": {"webhook_url": address}}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error" and list(body["fields"]) == ["secrets.webhook_url"]
    assert "CERTCTL_NOTIFICATION_ALLOWED_NETWORKS" in body["fields"]["secrets.webhook_url"][0]
    assert not Destination.objects.filter(name="inner").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "carrier-pigeon"}, "kind"),
        (
            {"kind": "slack", "config": {"colour": "red"}, "secrets": {"webhook_url": "https://a.example/x"}},
            "config.colour",
        ),
        ({"kind": "slack", "config": {"webhook_url": "https://a.example/x"}}, "config.webhook_url"),
        ({"kind": "slack"}, "secrets.webhook_url"),
        (
            {"kind": "pagerduty", "secrets": {"routing_key": "k"}, "config": {"severity": "loud"}},
            "config.severity",
        ),
        ({"kind": "email", "config": {"recipients": ["not-an-address"]}}, "config.recipients"),
        ({"kind": "email", "tiers": ["urgent"]}, "tiers"),
        ({"kind": "email", "team_id": "team-missing"}, "team_id"),
    ],
)
def test_bad_settings_are_400_with_field_errors(admin_client_with_key, body, field):
    response = admin_client_with_key.post(URL, {"name": "bad", **body}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Destination.objects.filter(name="bad").exists()


def test_a_name_in_use_is_a_409(admin_client_with_key):
    create(admin_client_with_key, {"name": "ops-mail", "kind": "email"})
    clash = admin_client_with_key.post(URL, {"name": "ops-mail", "kind": "email"}, format="json")
    assert clash.status_code == 409 and "ops-mail" in clash.json()["message"]


def test_reading_takes_any_key_and_writing_an_admin_key(client_with_key):
    assert client_with_key.get(URL).status_code == 200
    refused = client_with_key.post(URL, {"name": "x", "kind": "email"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert client_with_key.post(f"{URL}/dest-env-email/test", {}, format="json").status_code == 403


def test_environment_destinations_are_listed_read_only_with_their_public_settings(
    admin_client_with_key, settings, http_sink
):
    settings.SLACK_WEBHOOK_URL = ""
    slack = admin_client_with_key.get(f"{URL}/dest-env-slack").json()
    assert slack["source"] == "environment" and slack["configured"] is False and slack["secrets_set"] == []
    point_channels_at(settings, http_sink)
    settings.SLACK_CHANNEL = "#alerts"
    slack = admin_client_with_key.get(f"{URL}/dest-env-slack").json()
    assert slack["configured"] is True and slack["secrets_set"] == ["webhook_url"]
    assert slack["config"]["channel"] == "#alerts" and slack["url_host"] == "127.0.0.1"
    assert "T0SECRET" not in json.dumps(slack)

    patched = admin_client_with_key.patch(f"{URL}/dest-env-slack", {"enabled": False}, format="json")
    deleted = admin_client_with_key.delete(f"{URL}/dest-env-slack")
    for response in (patched, deleted):
        assert response.status_code == 409
        assert "set by environment variables" in response.json()["message"]
    assert Destination.objects.get(pk="dest-env-slack").enabled is True


def test_deleting_a_destination_a_policy_routes_to_is_409_naming_the_policy(admin_client_with_key):
    used = create(
        admin_client_with_key, {"name": "lead", "kind": "email", "config": {"recipients": ["l@x.test"]}}
    )
    stepped = create(
        admin_client_with_key, {"name": "pager", "kind": "pagerduty", "secrets": {"routing_key": "k"}}
    )
    RenewalPolicyFactory(name="critical-web", alert_channels={"critical": ["Email", used["id"]]})
    RenewalPolicyFactory(name="escalating", escalation_steps=[["lead"], ["pager"]])
    response = admin_client_with_key.delete(f"{URL}/{used['id']}")
    assert response.status_code == 409
    assert "critical-web" in response.json()["message"] and "escalating" in response.json()["message"]
    assert admin_client_with_key.delete(f"{URL}/{stepped['id']}").status_code == 409
    assert Destination.objects.filter(pk__in=[used["id"], stepped["id"]]).count() == 2


def test_deleting_keeps_the_notifications_with_the_destination_name(admin_client_with_key):
    created = create(admin_client_with_key, {"name": "gone-mail", "kind": "email"})
    event = NotificationEventFactory(
        channel=Channel.EMAIL,
        destination_id=created["id"],
        destination_name="",
        status=NotificationStatus.DEAD,
    )
    assert admin_client_with_key.delete(f"{URL}/{created['id']}").status_code == 204
    event.refresh_from_db()
    assert (event.destination_id, event.destination_name) == (None, "gone-mail")
    row = admin_client_with_key.get(f"/api/v1/notifications/{event.id}").json()
    assert row["destination_id"] is None and row["destination_name"] == "gone-mail"


def test_test_send_to_a_loopback_sink_answers_ok_and_records_the_delivery(admin_client_with_key, http_sink):
    created = create(admin_client_with_key, slack_body(http_sink))
    response = admin_client_with_key.post(f"{URL}/{created['id']}/test", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["destination_id"] == created["id"]
    assert body["last_delivery_at"].endswith("Z")
    assert http_sink.count(SLACK_TOKEN) == 1
    shown = admin_client_with_key.get(f"{URL}/{created['id']}").json()
    assert (
        shown["last_delivery_at"] is not None
        and shown["last_delivery_status"] == body["last_delivery_status"]
    )


def test_a_failing_test_send_answers_ok_false_with_a_detail_and_no_secret(admin_client_with_key, http_sink):
    created = create(admin_client_with_key, slack_body(http_sink))
    http_sink.respond(500, body=f"boom, cannot post to {http_sink.url_for(SLACK_TOKEN)}")
    body = admin_client_with_key.post(f"{URL}/{created['id']}/test", {}, format="json").json()
    assert body["ok"] is False and body["detail"]
    assert "destinationtokensecret" not in json.dumps(body)
    shown = admin_client_with_key.get(f"{URL}/{created['id']}").json()
    assert shown["last_delivery_error"] and "destinationtokensecret" not in shown["last_delivery_error"]


def test_a_test_send_of_an_unknown_destination_is_404(admin_client_with_key):
    response = admin_client_with_key.post(f"{URL}/dest_missing/test", {}, format="json")
    assert response.status_code == 404 and response.json()["message"] == "Destination not found"


def test_stats_count_notifications_per_destination_and_status(client_with_key):
    team_slack = Destination.objects.create(name="team-slack", kind="slack")
    NotificationEventFactory.create_batch(2, channel=Channel.SLACK, destination=team_slack, status="dead")
    NotificationEventFactory(channel=Channel.SLACK, destination=team_slack, status="deferred")
    # a producer that named only its channel: counted for the built-in destination
    NotificationEventFactory(channel=Channel.EMAIL, status="sent")
    NotificationEventFactory(channel=Channel.SLACK, destination_name="deleted-one", status="dead")
    body = client_with_key.get("/api/v1/stats/notifications").json()
    rows = {row["destination_name"]: row for row in body["by_destination"]}
    assert rows["team-slack"]["counts"]["dead"] == 2 and rows["team-slack"]["counts"]["deferred"] == 1
    assert rows["team-slack"]["total"] == 3 and rows["team-slack"]["destination_id"] == team_slack.id
    assert rows["Email (environment)"]["counts"]["sent"] == 1
    assert rows["deleted-one"]["destination_id"] is None and rows["deleted-one"]["source"] == "deleted"
    assert rows["Webhook (environment)"]["total"] == 0
    assert body["by_status"]["dead"] == 3 and body["generated_at"].endswith("Z")


def test_dead_letter_requeue_and_list_by_destination(client_with_key):
    team_slack = Destination.objects.create(name="team-slack", kind="slack")
    mine = NotificationEventFactory(channel=Channel.SLACK, destination=team_slack, status="dead")
    builtin = NotificationEventFactory(channel=Channel.SLACK, status="dead")  # named only its channel
    response = client_with_key.post(
        "/api/v1/notifications/requeue", {"destination_id": team_slack.id}, format="json"
    )
    assert response.status_code == 200 and response.json()["ids"] == [mine.id]
    assert NotificationEvent.objects.get(pk=builtin.pk).status == "dead"
    listed = client_with_key.get("/api/v1/notifications", {"destination_id": "dest-env-slack"}).json()
    assert [row["id"] for row in listed["data"]] == [builtin.id]
    assert listed["data"][0]["destination_id"] == "dest-env-slack"
    assert listed["data"][0]["destination_name"] == "Slack (environment)"


def test_renaming_a_destination_keeps_the_policies_that_named_it_routing_to_it(
    admin_client_with_key, http_sink
):
    created = create(admin_client_with_key, slack_body(http_sink))
    by_name = RenewalPolicyFactory(
        name="by-name",
        alert_channels={"warning": ["Email", "payments-slack"]},
        escalation_steps=[["payments-slack"]],
    )
    by_id = RenewalPolicyFactory(name="by-id", alert_channels={"critical": [created["id"]]})

    response = admin_client_with_key.patch(
        f"{URL}/{created['id']}", {"name": "payments-alerts"}, format="json"
    )

    assert response.status_code == 200, response.json()
    by_name.refresh_from_db()
    by_id.refresh_from_db()
    assert by_name.alert_channels == {"warning": ["Email", created["id"]]}
    assert by_name.escalation_steps == [[created["id"]]]
    assert by_id.alert_channels == {"critical": [created["id"]]}
    by_name.full_clean()  # the references still name an existing destination
