"""`certctl audit`: list the audit trail with filters, and `tail` it (optionally following new rows)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.output import stdout
from certctl_client.cli.session import api, fetch_rows, more_caption, out

app = typer.Typer(
    help="The audit trail: list with filters, tail (and follow) new events.", no_args_is_help=True
)

PATH = "/api/v1/audit"
COLUMNS = ("timestamp", "actor", "action", "resource_type", "resource_id", "id")
# Rows are written by a batching writer, so one can land a little after a newer one was listed: each poll looks
# back this far and skips the ids it already printed.
LOOKBACK = timedelta(seconds=30)
RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

Actor = Annotated[str | None, typer.Option(help="Exact actor: API key name, username, agent id, system.")]
Action = Annotated[str | None, typer.Option(help="Exact action, e.g. certificate_revoked.")]
Resource = Annotated[str | None, typer.Option(metavar="ID", help="Events about this object (cert-..., ...).")]
ResourceType = Annotated[str | None, typer.Option(help="Events about this kind of object, e.g. certificate.")]


def instant(value: str | None) -> str | None:
    """`15m`, `2h`, `7d` before now, or an ISO-8601 date / date-time passed to the API as it is."""
    if not value:
        return None
    relative = RELATIVE.match(value.strip())
    if not relative:
        return value
    amount, unit = int(relative.group(1)), relative.group(2)
    moment = datetime.now(UTC) - timedelta(**{UNITS[unit]: amount})
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def filters(actor: str | None, action: str | None, resource: str | None, resource_type: str | None) -> dict:
    return {"actor": actor, "action": action, "resource_id": resource, "resource_type": resource_type}


@app.command("list")
def list_events(
    actor: Actor = None,
    action: Action = None,
    resource: Resource = None,
    resource_type: ResourceType = None,
    since: Annotated[str | None, typer.Option(help="From: ISO date/date-time, or 15m, 2h, 7d ago.")] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive), same forms as --since.")] = None,
    every: Every = False,
    limit: Limit = 50,
    page_size: PageSize = None,
) -> None:
    """List audit events, newest first."""
    params = {**filters(actor, action, resource, resource_type), "from": instant(since), "to": instant(until)}
    rows, more = fetch_rows(PATH, every=every, limit=limit, page_size=page_size, **params)
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


def moment_of(row: dict) -> datetime:
    return datetime.fromisoformat(row["timestamp"])


def emit(rows: Iterable[dict]) -> None:
    """Streamed output: one line per event (JSON Lines with --output json, ids with --quiet)."""
    render = out()
    for row in rows:
        if render.quiet:
            print(row["id"], flush=True)
        elif render.mode == "json":
            print(json.dumps(row), flush=True)
        else:
            resource = f"{row['resource_type']} {row['resource_id']}".strip()
            stdout.print(
                f"{row['timestamp']}  {row['actor']:<20} {row['action']:<28} {resource}", markup=False
            )


@app.command()
def tail(
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, max=500, help="Recent events to show.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep polling for new events; Ctrl-C stops.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.5, max=60.0, help="Seconds between polls with --follow (0.5 to 60).")
    ] = 2.0,
    actor: Actor = None,
    action: Action = None,
    resource: Resource = None,
    resource_type: ResourceType = None,
) -> None:
    """The latest events, oldest first; with --follow, new ones as they are written."""
    params = filters(actor, action, resource, resource_type)
    recent = (
        list(api().paginate(PATH, limit=lines, page_size=max(1, min(lines, 500)), **params)) if lines else []
    )
    emit(reversed(recent))
    if not follow:
        return
    seen = {row["id"]: moment_of(row) for row in recent}
    newest = max(seen.values(), default=datetime.now(UTC))
    try:
        while True:
            time.sleep(interval)
            since = newest - LOOKBACK
            query = {**params, "from": since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
            fresh = [row for row in api().paginate(PATH, page_size=500, **query) if row["id"] not in seen]
            fresh.sort(key=lambda row: (moment_of(row), row.get("seq") or 0))
            emit(fresh)
            seen.update((row["id"], moment_of(row)) for row in fresh)
            newest = max([newest, *(moment_of(row) for row in fresh)])
            seen = {key: moment for key, moment in seen.items() if moment >= since}
    except KeyboardInterrupt:
        return
