"""The installed `certctl-mcp` over stdio, driven by the MCP SDK's own client, against a live certctl server.

Database work happens before and after `asyncio.run(...)`: pytest-django refuses DB access from a running loop.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from audit.models import AuditEvent
from certificates.issuance.models import ApprovalRequest, Job
from notifications.enums import Channel, NotificationStatus
from tests.client.mcp_session import CERTCTL_MCP, CHANGING, READ_ONLY, error_text, payload, run_mcp
from tests.factories import CertificateFactory, JobFactory, ProfileFactory
from tests.notification_factories import NotificationEventFactory
from tests.revocation_support import issue_leaf, make_local_ca
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_tool_is_listed_with_its_parameters_and_annotations(mcp_env, tmp_path):
    tools = run_mcp(mcp_env, lambda client: client.list_tools(), tmp_path / "stderr").tools
    by_name = {tool.name: tool for tool in tools}

    assert set(by_name) == READ_ONLY | CHANGING
    for name in READ_ONLY:
        assert by_name[name].annotations.read_only_hint is True, name
    for name in CHANGING:
        assert by_name[name].annotations.read_only_hint is False, name
    assert by_name["revoke_certificate"].annotations.destructive_hint is True
    assert by_name["requeue_notification"].annotations.idempotent_hint is True
    assert by_name["renew_certificate"].annotations.destructive_hint is False
    assert all(tool.description for tool in tools)

    def properties(name: str) -> dict:
        return by_name[name].input_schema["properties"]

    assert set(properties("list_certificates")) == {"status", "team", "expiring_within_days", "limit"}
    assert properties("list_expiring_certificates")["days"]["default"] == 30
    assert by_name["get_certificate"].input_schema["required"] == ["id"]
    assert properties("renew_certificate")["force"]["type"] == "boolean"
    assert len(properties("revoke_certificate")["reason"]["enum"]) == 8
    assert "keyCompromise" in properties("revoke_certificate")["reason"]["enum"]
    assert set(properties("list_notifications")) == {
        "status",
        "channel",
        "certificate_id",
        "destination_id",
        "limit",
    }
    assert {"actor", "resource_type", "resource_id", "action", "since", "limit"} <= set(
        properties("search_audit")
    )
    assert {"status", "type", "limit"} <= set(properties("list_jobs"))
    assert properties("list_jobs")["limit"]["maximum"] == 500
    assert properties("approve_job")["id"]["description"]


def test_dead_notification_is_listed_then_requeued_and_delivered(mcp_env, tmp_path, settings, http_sink):
    point_channels_at(settings, http_sink)
    dead = NotificationEventFactory(
        channel=Channel.SLACK, status=NotificationStatus.DEAD, retry_count=5, last_error="HTTP 503 from Slack"
    )
    NotificationEventFactory(channel=Channel.EMAIL, status=NotificationStatus.DEAD)
    NotificationEventFactory(channel=Channel.SLACK, status=NotificationStatus.SENT, sent_at=timezone.now())

    async def scenario(client: ClientSession) -> tuple[dict, dict]:
        listed = payload(await client.call_tool("list_dead_notifications", {"channel": "Slack"}))
        requeued = payload(await client.call_tool("requeue_notification", {"id": dead.pk}))
        return listed, requeued

    listed, requeued = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert [row["id"] for row in listed["notifications"]] == [dead.pk]
    assert listed["notifications"][0]["last_error"] == "HTTP 503 from Slack"
    assert listed["total"] == 1 and "note" not in listed
    assert requeued["status"] == "requeued"
    dead.refresh_from_db()
    assert dead.status == NotificationStatus.SENT  # delivered to the Slack sink right after the requeue
    assert len(http_sink.received()) == 1
    event = AuditEvent.objects.get(action="notification_requeued", resource_id=dead.pk)
    assert event.actor == "assistant"


def test_api_errors_are_tool_errors_and_the_session_keeps_working(mcp_env, tmp_path):
    sent = NotificationEventFactory(status=NotificationStatus.SENT, sent_at=timezone.now())
    certificate = CertificateFactory()

    async def scenario(client: ClientSession) -> list[CallToolResult]:
        return [
            await client.call_tool("get_certificate", {"id": "cert-does-not-exist"}),
            await client.call_tool("requeue_notification", {"id": sent.pk}),
            await client.call_tool("revoke_certificate", {"id": certificate.pk, "reason": "stolen"}),
            await client.call_tool("search_audit", {"since": "last tuesday"}),
            await client.call_tool("get_certificate", {"id": certificate.pk}),
        ]

    missing, not_requeueable, bad_reason, bad_since, found = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert error_text(missing).count("not_found: ") == 1 and "HTTP 404" in error_text(missing)
    assert "conflict: cannot requeue a notification in status 'sent'" in error_text(not_requeueable)
    assert "reason" in error_text(bad_reason)  # refused by the input schema before any request
    assert "validation_error: from: must be an ISO-8601 date or date-time" in error_text(bad_since)
    assert "HTTP 400" in error_text(bad_since)
    assert payload(found)["id"] == certificate.pk
    sent.refresh_from_db()
    assert sent.status == NotificationStatus.SENT


def test_unreachable_server_is_a_network_tool_error(mcp_env, tmp_path):
    env = {**mcp_env, "CERTCTL_URL": "http://127.0.0.1:9"}

    async def scenario(client: ClientSession) -> tuple[CallToolResult, list]:
        failed = await client.call_tool("get_stats", {})
        return failed, (await client.list_tools()).tools

    failed, tools = run_mcp(env, scenario, tmp_path / "stderr")

    assert "network_error: cannot reach http://127.0.0.1:9" in error_text(failed)
    assert len(tools) == len(READ_ONLY | CHANGING)


def test_expiring_certificates_are_listed_soonest_first_without_revoked_ones(mcp_env, tmp_path):
    now = timezone.now()
    soon = CertificateFactory(name="payments-api", expires_at=now + timedelta(days=3))
    later = CertificateFactory(name="billing", expires_at=now + timedelta(days=20))
    CertificateFactory(name="revoked", expires_at=now + timedelta(days=5), status="Revoked")
    CertificateFactory(name="far", expires_at=now + timedelta(days=200))
    CertificateFactory(name="gone", expires_at=now - timedelta(days=2), status="Expired")
    team_name = later.team.name

    async def scenario(client: ClientSession) -> tuple[dict, ...]:
        return (
            payload(await client.call_tool("list_expiring_certificates", {})),
            payload(await client.call_tool("list_expiring_certificates", {"days": 30, "limit": 1})),
            payload(await client.call_tool("list_certificates", {"expiring_within_days": 30, "limit": 2})),
            payload(await client.call_tool("list_certificates", {"team": team_name})),
        )

    default, capped, listed, by_team = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert [row["id"] for row in default["certificates"]] == [soon.pk, later.pk]
    assert [row["id"] for row in capped["certificates"]] == [soon.pk]
    assert "more than 1" in capped["note"]
    assert listed["count"] == 2 and listed["total"] == 4 and "showing 2 of 4" in listed["note"]
    assert [row["id"] for row in by_team["certificates"]] == [later.pk]


def test_revoke_certificate_with_a_reason_revokes_it(mcp_env, tmp_path):
    cert, version, _ = issue_leaf(make_local_ca())

    async def scenario(client: ClientSession) -> tuple[dict, CallToolResult]:
        revoked = payload(
            await client.call_tool("revoke_certificate", {"id": cert.pk, "reason": "keyCompromise"})
        )
        return revoked, await client.call_tool("revoke_certificate", {"id": cert.pk})

    revoked, again = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert revoked["status"] == "revoked" and revoked["reason"] == "keyCompromise"
    assert revoked["serial"] == version.serial_number
    assert "conflict: certificate is already revoked" in error_text(again)
    cert.refresh_from_db()
    assert cert.status == "Revoked" and cert.revocation_reason == "keyCompromise"


def test_reject_job_takes_the_job_id_and_cancels_the_job(mcp_env, tmp_path):
    job = JobFactory(status="AwaitingApproval")
    approval = ApprovalRequest.objects.create(
        certificate=job.certificate, job=job, profile=ProfileFactory(), requested_by="alice"
    )

    async def scenario(client: ClientSession) -> tuple[dict, dict]:
        awaiting = payload(await client.call_tool("list_jobs", {"status": "AwaitingApproval"}))
        rejected = payload(await client.call_tool("reject_job", {"id": job.pk, "note": "not this week"}))
        return awaiting, rejected

    awaiting, rejected = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert [row["id"] for row in awaiting["jobs"]] == [job.pk]
    assert rejected == {
        "id": approval.pk,
        "action": "rejected",
        "decided_by": "assistant",
        "state": "rejected",
        "job_id": job.pk,
    }
    assert Job.objects.get(pk=job.pk).status == "Cancelled"


def test_stats_and_audit_search_answer_the_api_objects(mcp_env, tmp_path):
    certificate = CertificateFactory()

    async def scenario(client: ClientSession) -> tuple[dict, dict]:
        await client.call_tool("renew_certificate", {"id": certificate.pk})
        stats = payload(await client.call_tool("get_stats", {}))
        audit = payload(
            await client.call_tool("search_audit", {"resource_id": certificate.pk, "since": "2000-01-01"})
        )
        return stats, audit

    stats, audit = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert stats["total_certificates"] == 1 and "notifications_by_status" in stats
    assert audit["events"] and {event["resource_id"] for event in audit["events"]} == {certificate.pk}
    assert all(event["actor"] in ("assistant", "system") for event in audit["events"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port that is coming up, not waiting for time to pass
    raise AssertionError(f"certctl-mcp did not listen on {port}")


def test_streamable_http_transport_serves_the_same_tools(mcp_env, tmp_path):
    CertificateFactory()
    port = free_port()
    command = [str(CERTCTL_MCP), "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **mcp_env}
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_until_listening(process, port)

        async def session() -> tuple[list, dict]:
            async with (
                streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                tools = (await client.list_tools()).tools
                return tools, payload(await client.call_tool("get_stats", {}))

        tools, stats = asyncio.run(session())
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert {tool.name for tool in tools} == READ_ONLY | CHANGING
    assert stats["total_certificates"] == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no server URL"),
        ({"CERTCTL_URL": "http://127.0.0.1:9"}, "no API key"),
        ({"CERTCTL_URL": "ftp://certctl", "CERTCTL_API_KEY": "cctl_x"}, "must look like https://host"),
    ],
)
def test_missing_url_or_key_is_one_line_on_stderr_and_exit_2(env, message, tmp_path):
    result = subprocess.run(
        [str(CERTCTL_MCP)],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
