"""Small commands: `status`, `stats`, `issuers list|test`, `agents list`."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from certctl_client.cli.options import Every, Limit
from certctl_client.cli.session import api, current, fetch_rows, more_caption, out

issuers = typer.Typer(help="Issuers: list, test that one can sign.", no_args_is_help=True)
agents = typer.Typer(help="Host agents: list.", no_args_is_help=True)


def status() -> None:
    """Is the server up (/ready), which version, and who the API key is (when one is configured)."""
    session = current()
    version = session.api.get("/api/v1/version")
    ready = session.api.get("/ready")
    whoami = session.api.get("/api/v1/auth/check") if session.has_key else None
    report = {"url": session.connection.url if session.connection else "", "version": version, "ready": ready}
    if whoami is not None:
        report["auth"] = whoami
    if out().quiet:
        print(ready["status"])
        return
    if out().mode == "json":
        out().json(report)
        return
    flat = {
        "url": report["url"],
        "version": version.get("version"),
        "ready": ready.get("status"),
        "database": ready.get("db"),
        "broker": ready.get("broker"),
        "worker heartbeat age (s)": ready.get("worker_heartbeat_age_seconds"),
        "beat heartbeat age (s)": ready.get("beat_heartbeat_age_seconds"),
        "authenticated as": f"{whoami['user']}{' (admin)' if whoami['admin'] else ''}"
        if whoami
        else "no key",
    }
    out().record(flat)


def stats() -> None:
    """Dashboard counters: certificates by bucket and status, agents, jobs, notifications."""
    summary = api().get("/api/v1/stats/summary")
    if out().mode == "json" or out().quiet:
        out().json(summary)
        return
    flat: dict = {}
    for name, value in summary.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{key}": count for key, count in value.items()})
        else:
            flat[name] = value
    out().record(flat)


@issuers.command("list")
def list_issuers(
    issuer_type: Annotated[
        str | None, typer.Option("--type", help="Only this type (local, ACME, ...).")
    ] = None,
    every: Every = False,
    limit: Limit = 50,
) -> None:
    """List issuers (their secrets are never returned)."""
    rows, more = fetch_rows("/api/v1/issuers", every=every, limit=limit, type=issuer_type)
    columns = ("id", "name", "type", "enabled", "has_secrets", "test_status", "last_tested_at")
    out().rows(rows, columns, caption=more_caption(more, limit))


@issuers.command("test")
def test_issuer(issuer_id: Annotated[str, typer.Argument(metavar="ID", help="Issuer id.")]) -> None:
    """Sign a throw-away certificate with the issuer; exit 1 when it cannot sign."""
    result = api().post(f"/api/v1/issuers/{issuer_id}/test")
    out().message({"id": issuer_id, **result}, f"{issuer_id}: {result['status']}: {result['message']}")
    if result["status"] != "success":
        raise typer.Exit(1)


@agents.command("list")
def list_agents(
    agent_status: Annotated[
        Literal["Online", "Offline", "Degraded"] | None, typer.Option("--status", help="Only this status.")
    ] = None,
    retired: Annotated[bool, typer.Option("--retired", help="Retired agents instead.")] = False,
    every: Every = False,
    limit: Limit = 50,
) -> None:
    """List the agents in service (or the retired ones)."""
    path = "/api/v1/agents/retired" if retired else "/api/v1/agents"
    rows, more = fetch_rows(path, every=every, limit=limit, status=None if retired else agent_status)
    columns = ("id", "name", "hostname", "status", "last_heartbeat_at", "version", "retired_at")
    out().rows(rows, columns, caption=more_caption(more, limit))
