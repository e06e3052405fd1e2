"""`certctl-mcp` over stdio, driven by the MCP SDK's own client: start it, initialise a session, run a scenario.

Database work happens before and after `run_mcp(...)`: pytest-django refuses DB access from a running loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

CERTCTL_MCP = Path(sys.executable).parent / "certctl-mcp"
READ_ONLY = {
    "list_certificates",
    "get_certificate",
    "list_expiring_certificates",
    "list_notifications",
    "list_dead_notifications",
    "get_stats",
    "search_audit",
    "list_jobs",
    "list_destinations",
    "certificate_alert_routes",
    "list_discovered_certificates",
    "get_discovered_certificate",
    "get_discovery_scan",
    "list_violations",
}
CHANGING = {
    "renew_certificate",
    "revoke_certificate",
    "requeue_notification",
    "acknowledge_notification",
    "test_destination",
    "approve_job",
    "reject_job",
    "claim_discovered_certificate",
    "dismiss_discovered_certificate",
    "start_discovery_scan",
}

Scenario = Callable[[ClientSession], Awaitable[Any]]


def run_mcp(env: dict[str, str], scenario: Scenario, errlog: Path) -> Any:
    """Start certctl-mcp over stdio, initialise a session and run `scenario` in it."""

    async def session() -> Any:
        params = StdioServerParameters(command=str(CERTCTL_MCP), env=env)
        with errlog.open("w") as stderr:
            async with (
                stdio_client(params, errlog=stderr) as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                return await asyncio.wait_for(scenario(client), timeout=30)

    try:
        return asyncio.run(session())
    except BaseException:
        print(f"certctl-mcp stderr:\n{errlog.read_text() if errlog.exists() else ''}", file=sys.stderr)
        raise


def payload(result: CallToolResult) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return result.content[0].text
