"""`certctl destinations`, `notifications ack`, `--destination` filters and `certs alert-routes`, run as the installed
script against a live server (tests/client/conftest.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.enums import Channel, NotificationStatus
from notifications.models import Destination
from tests.client.cli_process import KEY_NAME, one_error_line, run
from tests.factories import CertificateFactory, OwnerFactory, RenewalPolicyFactory, TeamFactory
from tests.notification_factories import NotificationEventFactory
from tests.notifications.critical_alerts import critical_alert

pytestmark = pytest.mark.django_db(transaction=True)

SLACK_TOKEN = "/slack/T0CLI/B0CLI/clitokensecretpart"


def test_a_secret_read_from_stdin_is_stored_and_never_printed(server, http_sink):
    secret_url = http_sink.url_for(SLACK_TOKEN)
    created = run(
        server, "destinations", "create", "--name", "ops-slack", "--kind", "slack", "--config", "channel=#ops",
        "--secret", "webhook_url=-", "--tier", "warning", "--tier", "critical", "-o", "json",
        stdin=secret_url + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["secrets_set"] == ["webhook_url"] and "secrets" not in body
    assert (body["url_host"], body["config"], body["tiers"]) == (
        "127.0.0.1",
        {"channel": "#ops"},
        ["warning", "critical"],
    )

    shown = run(server, "destinations", "show", body["id"])
    tested = run(server, "destinations", "test", body["id"])
    for result in (created, shown, tested):
        assert "clitokensecretpart" not in result.stdout + result.stderr
    assert shown.returncode == 0 and "ops-slack" in shown.stdout and "webhook_url" in shown.stdout
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.strip() == f"{body['id']}: delivered: delivered"
    assert http_sink.count(SLACK_TOKEN) == 1  # the stored secret is the one piped in


def test_update_merges_config_keeps_secrets_and_delete_removes_it(server, http_sink):
    created = run(
        server, "destinations", "create", "--name", "hook", "--kind", "webhook",
        "--secret", f"url={http_sink.url_for('/hook')}", "--secret", "hmac_secret=-", "-q", stdin="hmac-value",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    dest_id = created.stdout.strip()

    nothing = run(server, "destinations", "update", dest_id)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    kind_change = run(server, "destinations", "update", dest_id, "--kind", "slack")
    assert kind_change.returncode == 2 and "cannot change" in one_error_line(kind_change)

    updated = run(server, "destinations", "update", dest_id, "--disable", "--name", "hook-2", "-o", "json")
    assert updated.returncode == 0, updated.stderr
    body = json.loads(updated.stdout)
    assert (body["name"], body["enabled"], body["secrets_set"]) == ("hook-2", False, ["hmac_secret", "url"])

    listed = run(server, "destinations", "list", "--kind", "webhook", "--source", "admin", "-q")
    demo_webhook = Destination.objects.get(name="platform-webhook").pk  # the demo data's team webhook
    assert sorted(listed.stdout.split()) == sorted([dest_id, demo_webhook])  # not dest-env-webhook, not Slack
    deleted = run(server, "destinations", "delete", dest_id)
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"deleted {dest_id}"
    missing = run(server, "destinations", "get", dest_id)
    assert missing.returncode == 3 and "not_found" in one_error_line(missing)
    assert not Destination.objects.filter(pk=dest_id).exists()


def test_ack_acknowledges_the_incident_once_and_an_unknown_id_exits_3(server):
    certificate = CertificateFactory(expires_at=timezone.now() + timedelta(hours=6))
    email, pager = critical_alert(certificate), critical_alert(certificate, channel=Channel.PAGERDUTY)

    first = run(server, "notifications", "ack", email.id)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"{email.id}: acknowledged by {KEY_NAME} at ")
    assert "(2 alert(s) of the incident)" in first.stdout
    pager.refresh_from_db()
    assert pager.acknowledged_by == KEY_NAME

    again = run(server, "notifications", "ack", pager.id, "-o", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["status"] == "already_acknowledged"

    unknown = run(server, "notifications", "ack", "notif-does-not-exist")
    assert unknown.returncode == 3
    assert unknown.stderr.startswith("notif-does-not-exist: error: ") and "[not_found" in unknown.stderr


def test_list_and_bulk_requeue_take_a_destination(server):
    target = Destination.objects.create(name="payments-hook", kind="webhook")
    mine = NotificationEventFactory(
        status=NotificationStatus.DEAD,
        channel=Channel.WEBHOOK,
        destination=target,
        destination_name=target.name,
    )
    other = NotificationEventFactory(status=NotificationStatus.DEAD, channel=Channel.SLACK, retry_count=5)

    listed = run(server, "notifications", "list", "--destination", target.id, "-q")
    assert listed.stdout.split() == [mine.id]
    requeued = run(server, "notifications", "requeue", "--destination", target.id, "-o", "json")
    assert requeued.returncode == 0, requeued.stderr
    assert json.loads(requeued.stdout)["ids"] == [mine.id]
    other.refresh_from_db()
    assert (other.status, other.retry_count) == (NotificationStatus.DEAD, 5)  # another destination's row


def test_alert_routes_table_lists_the_team_destination_and_why(server):
    team = TeamFactory(name="Card Issuing")
    certificate = CertificateFactory(
        expires_at=timezone.now() + timedelta(days=3),
        renewal_policy=RenewalPolicyFactory(
            alert_thresholds_days=[7, 0], alert_channels={"critical": ["Email"]}
        ),
        team=team,
        owner=OwnerFactory(team=team),
    )
    pager = Destination.objects.create(name="issuing-pager", kind="pagerduty", team=team, tiers=["critical"])

    table = run(server, "certs", "alert-routes", certificate.id)
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if "issuing-pager" in line]
    # 7 days (warning): skipped; 0 days and expired (critical): sent, as the team's destination.
    assert len(rows) == 3
    assert "skipped: tier not accepted (accepts critical)" in rows[0]
    assert all("critical" in row and "│ yes " in row and "team Card Issuing" in row for row in rows[1:])
    assert "(3 days left)" in table.stdout or "(2 days left)" in table.stdout

    as_json = run(server, "certs", "alert-routes", certificate.id, "-o", "json")
    routes = json.loads(as_json.stdout)
    seven = {d["name"]: d for d in routes["thresholds"][0]["destinations"]}
    assert seven["issuing-pager"]["skipped_reason"] == "tier not accepted (accepts critical)"
    assert pager.id in run(server, "certs", "alert-routes", certificate.id, "-q").stdout.split()
