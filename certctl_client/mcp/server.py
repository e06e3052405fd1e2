"""`certctl-mcp`: certctl's REST API as Model Context Protocol tools for an assistant (stdio, or streamable HTTP).

    CERTCTL_URL=https://certctl.example.com CERTCTL_API_KEY=cctl_... certctl-mcp
    certctl-mcp --profile prod --transport streamable-http --host 127.0.0.1 --port 8765

The URL and key come from certctl_client.config.resolve, as for the `certctl` CLI. Exit codes: 0 after a clean
shutdown, 2 when the URL or key is missing or unusable (one line on stderr).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from certctl_client.api import Api
from certctl_client.config import ConfigError, Connection, config_path, resolve
from certctl_client.mcp.tools import CertctlTools

EXIT_CONFIG = 2

INSTRUCTIONS = """\
certctl manages the TLS certificates of an organisation: inventory, renewals, revocation, expiry alerts and jobs,
and discovers certificates nobody manages yet (scans, agents, imports) and checks them against compliance rules.
IDs are prefixed strings (cert-..., notif-..., job-..., ar-..., dest-..., dcert-..., dscan-...); times are UTC
ISO-8601. Lists answer at most `limit` rows with `total`, and a `note` when more rows match. Every call is made
with the configured API key and recorded in certctl's audit trail under that key's name. revoke_certificate cannot
be undone: confirm with the user first. A failed call answers an error `code: message` from the API (not_found,
conflict, forbidden, validation_error, network_error, ...)."""


def _reads(title: str) -> ToolAnnotations:
    return ToolAnnotations(title=title, read_only_hint=True, open_world_hint=False)


def _changes(title: str, *, destructive: bool, idempotent: bool) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


# Idempotent where a repeat changes nothing: a second revoke, requeue, decision or claim is a conflict error (a
# repeated link answers the link), a second acknowledgement or dismissal answers the first; a second renew with
# force opens another job, a second test sends another message and a second scan (once the first finished) starts
# another run, so those are not.
ANNOTATIONS: dict[str, ToolAnnotations] = {
    "list_certificates": _reads("List certificates"),
    "get_certificate": _reads("Get a certificate"),
    "list_expiring_certificates": _reads("List expiring certificates"),
    "renew_certificate": _changes("Renew a certificate", destructive=False, idempotent=False),
    "revoke_certificate": _changes("Revoke a certificate", destructive=True, idempotent=True),
    "list_notifications": _reads("List notifications"),
    "list_dead_notifications": _reads("List dead notifications"),
    "requeue_notification": _changes("Requeue a notification", destructive=False, idempotent=True),
    "acknowledge_notification": _changes("Acknowledge an alert", destructive=False, idempotent=True),
    "list_destinations": _reads("List alert destinations"),
    "test_destination": _changes("Send a test to a destination", destructive=False, idempotent=False),
    "certificate_alert_routes": _reads("Alert routes of a certificate"),
    "get_stats": _reads("Inventory statistics"),
    "search_audit": _reads("Search the audit trail"),
    "list_jobs": _reads("List jobs"),
    "approve_job": _changes("Approve a job", destructive=False, idempotent=True),
    "reject_job": _changes("Reject a job", destructive=True, idempotent=True),
    "list_discovered_certificates": _reads("List discovered certificates"),
    "get_discovered_certificate": _reads("Get a discovered certificate"),
    "claim_discovered_certificate": _changes(
        "Claim a discovered certificate", destructive=False, idempotent=True
    ),
    "dismiss_discovered_certificate": _changes(
        "Dismiss a discovered certificate", destructive=False, idempotent=True
    ),
    "start_discovery_scan": _changes("Start a network scan", destructive=False, idempotent=False),
    "get_discovery_scan": _reads("Get a network scan run"),
    "list_violations": _reads("List compliance violations"),
}


def build_server(api: Api) -> MCPServer:
    """The MCP server with every certctl tool registered against `api`."""
    server: MCPServer = MCPServer(
        "certctl", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING"
    )
    tools = CertctlTools(api)
    for name, hints in ANNOTATIONS.items():
        tool = getattr(tools, name)
        server.add_tool(
            tool, name=name, title=hints.title, description=inspect.getdoc(tool), annotations=hints
        )
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("certctl")
    except PackageNotFoundError:
        return "0"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="certctl-mcp",
        description="certctl's REST API as MCP tools. The API key comes from CERTCTL_API_KEY or a profile.",
    )
    parser.add_argument("--url", help="server URL (default: CERTCTL_URL, then the profile)")
    parser.add_argument("--profile", help="profile in the config file (default: CERTCTL_PROFILE)")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable HTTP: address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="streamable HTTP: port to listen on")
    parser.add_argument("--path", default="/mcp", help="streamable HTTP: endpoint path")
    return parser.parse_args(argv)


def connect(url: str | None = None, profile: str | None = None) -> Connection:
    """The connection to use; ConfigError when the URL or the key is missing (the key is never printed)."""
    connection = resolve(url=url, profile=profile)
    if not connection.api_key:
        raise ConfigError(
            "no API key: set CERTCTL_API_KEY, or api_key / api_key_file in a profile of " + str(config_path())
        )
    return connection


def main(argv: Sequence[str] | None = None) -> int:
    """Run the MCP server until the client disconnects (stdio) or it is interrupted (HTTP)."""
    args = _arguments(argv)
    try:
        connection = connect(args.url, args.profile)
    except ConfigError as exc:
        print(f"certctl-mcp: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    with Api(connection) as api:
        server = build_server(api)
        try:
            if args.transport == "stdio":
                server.run("stdio")
            else:
                print(
                    f"certctl-mcp: serving {connection.url} on http://{args.host}:{args.port}{args.path}",
                    file=sys.stderr,
                )
                server.run("streamable-http", host=args.host, port=args.port, streamable_http_path=args.path)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
