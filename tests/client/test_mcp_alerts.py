"""The alerting tools of `certctl-mcp` (destinations, test send, acknowledgement, alert routes) over stdio against a
live certctl server. Database work happens before and after `run_mcp(...)`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from mcp import ClientSession
from mcp.types import CallToolResult

from notifications.services.destinations import create_destination
from tests.client.mcp_session import error_text, payload, run_mcp
from tests.factories import CertificateFactory, OwnerFactory, RenewalPolicyFactory, TeamFactory
from tests.notifications.critical_alerts import critical_alert, ensure_builtin_destinations

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "/slack/T0MCP/B0MCP/mcptokensecretpart"


def test_destinations_are_listed_without_secrets_and_a_test_is_delivered(mcp_env, tmp_path, http_sink):
    ensure_builtin_destinations()
    team = TeamFactory(name="Checkout")
    slack = create_destination(
        name="checkout-slack",
        kind="slack",
        secrets={"webhook_url": http_sink.url_for(TOKEN)},
        team=team,
        actor="test",
        actor_type="system",
    )

    async def scenario(client: ClientSession) -> tuple[CallToolResult, dict, dict]:
        listed = await client.call_tool("list_destinations", {"kind": "slack"})
        tested = payload(await client.call_tool("test_destination", {"id": slack.pk}))
        by_team = payload(await client.call_tool("list_destinations", {"team_id": team.pk}))
        return listed, tested, by_team

    listed, tested, by_team = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert "mcptokensecretpart" not in listed.content[0].text
    rows = {row["name"]: row for row in payload(listed)["destinations"]}
    assert set(rows) == {"checkout-slack", "Slack (environment)"}
    assert (
        rows["checkout-slack"]["secrets_set"] == ["webhook_url"] and "secrets" not in rows["checkout-slack"]
    )
    assert (tested["ok"], tested["destination_id"]) == (True, slack.pk)
    assert http_sink.count(TOKEN) == 1
    assert [row["id"] for row in by_team["destinations"]] == [slack.pk]


def test_acknowledge_twice_answers_the_first_and_an_unknown_id_is_not_found(mcp_env, tmp_path):
    certificate = CertificateFactory(expires_at=timezone.now() + timedelta(hours=6))
    alert = critical_alert(certificate)

    async def scenario(client: ClientSession) -> list[CallToolResult]:
        return [
            await client.call_tool("acknowledge_notification", {"id": alert.pk}),
            await client.call_tool("acknowledge_notification", {"id": alert.pk}),
            await client.call_tool("acknowledge_notification", {"id": "notif-nope"}),
        ]

    first, again, unknown = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert payload(first)["status"] == "acknowledged" and payload(first)["acknowledged_by"] == "assistant"
    assert payload(again)["status"] == "already_acknowledged"
    assert payload(again)["acknowledged_at"] == payload(first)["acknowledged_at"]
    assert "not_found: " in error_text(unknown) and "HTTP 404" in error_text(unknown)
    alert.refresh_from_db()
    assert alert.acknowledged_by == "assistant"


def test_certificate_alert_routes_name_the_team_destination(mcp_env, tmp_path):
    team = TeamFactory(name="Ledger")
    certificate = CertificateFactory(
        expires_at=timezone.now() + timedelta(days=3),
        renewal_policy=RenewalPolicyFactory(alert_thresholds_days=[7], alert_channels={"warning": ["Email"]}),
        team=team,
        owner=OwnerFactory(team=team),
    )
    ensure_builtin_destinations()
    create_destination(name="ledger-teams", kind="teams", secrets={"webhook_url": "https://example.com/t"},
                       team=team, actor="test", actor_type="system")  # fmt: skip

    async def scenario(client: ClientSession) -> tuple[dict, CallToolResult]:
        routes = payload(await client.call_tool("certificate_alert_routes", {"id": certificate.pk}))
        return routes, await client.call_tool("certificate_alert_routes", {"id": "cert-nope"})

    routes, missing = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    seven = {d["name"]: d for d in routes["thresholds"][0]["destinations"]}
    assert (routes["thresholds"][0]["tier"], routes["thresholds"][0]["fired"]) == ("warning", True)
    assert seven["ledger-teams"]["included"] and seven["ledger-teams"]["reason"] == "team Ledger"
    assert "not_found" in error_text(missing)
    assert json.dumps(routes).count("webhook_url") == 0
