"""`certctl destinations`: where alerts go. List, show, create, update, delete, send a test.

Secrets are write-only: the API never answers them (only `secrets_set` and `url_host`), and neither do we.
`--secret KEY=-` reads the value from stdin (without echo at a terminal), so it stays out of shell history and `ps`.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any, get_args

import typer

from certctl_client.cli.errors import USAGE
from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.output import warn
from certctl_client.cli.session import api, fetch_rows, more_caption, out
from certctl_client.vocabulary import DestinationKind, DestinationSource, SeverityTier

app = typer.Typer(
    help="Alert destinations: list, show, create, update, delete, send a test.", no_args_is_help=True
)

PATH = "/api/v1/destinations"
COLUMNS = (
    "id",
    "name",
    "kind",
    "source",
    "enabled",
    "configured",
    "team_id",
    "tiers",
    "is_default",
    "url_host",
    "last_delivery_status",
    "last_delivery_at",
)
DestId = Annotated[str, typer.Argument(metavar="ID", help="Destination id (dest-...).")]
Name = Annotated[str | None, typer.Option("--name", help="Unique name.")]
Configs = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        metavar="KEY=VALUE",
        help="Public setting (repeatable). KEY:=JSON for a number, list or null: smtp_port:=587, "
        "recipients:='[\"ops@example.com\"]', username:=null (update: remove it).",
    ),
]
Secrets = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        metavar="KEY=VALUE",
        help="Secret setting (repeatable), never shown again. KEY=- reads the value from stdin (asked without "
        "echo at a terminal): keeps it out of shell history. KEY= clears an optional one on update.",
    ),
]
Team = Annotated[
    str | None, typer.Option("--team", metavar="TEAM_ID", help="Team whose alerts it receives ('' : none).")
]
Tier = StrEnum("Tier", [(tier, tier) for tier in get_args(SeverityTier)])  # Typer takes no list of Literal
Tiers = Annotated[
    list[Tier] | None,
    typer.Option("--tier", help="Severity tier it accepts (repeatable); none given on create: every tier."),
]
Default = Annotated[
    bool | None,
    typer.Option("--default/--no-default", help="Receives a tier's alerts when no other route does."),
]
Enabled = Annotated[bool | None, typer.Option("--enable/--disable", help="Switch it on or off.")]


@app.command("list")
def list_destinations(
    kind: Annotated[
        DestinationKind | None, typer.Option(case_sensitive=False, help="Only this kind.")
    ] = None,
    source: Annotated[DestinationSource | None, typer.Option(help="Only this source.")] = None,
    team: Annotated[str | None, typer.Option(metavar="TEAM_ID", help="Only this team's.")] = None,
    every: Every = False,
    limit: Limit = 50,
    page_size: PageSize = None,
) -> None:
    """List destinations (the six built-in ones from the environment too)."""
    rows, more = fetch_rows(
        PATH, every=every, limit=limit, page_size=page_size, kind=kind, source=source, team_id=team
    )
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


def show(destination_id: DestId) -> None:
    """Show one destination: public settings, which secrets are set, the last delivery."""
    out().record(api().get(f"{PATH}/{destination_id}"))


app.command("show")(show)
app.command("get", hidden=True)(show)  # the name every other group uses


def settings(pairs: list[str] | None, *, secret: bool) -> dict[str, Any]:
    """`KEY=VALUE` pairs as a dict: `KEY:=JSON` (config) parses the value, `KEY=-` (secrets) reads it from stdin."""
    values: dict[str, Any] = {}
    option = "--secret" if secret else "--config"
    if secret and sum(pair.endswith("=-") for pair in pairs or []) > 1:
        warn("error: only one --secret can be read from stdin (KEY=-)")
        raise typer.Exit(USAGE)
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.rstrip(":"):
            warn(f"error: {option} takes KEY=VALUE, got {pair.split('=', 1)[0]!r} with no '='")
            raise typer.Exit(USAGE)
        if key.endswith(":") and not secret:
            key = key[:-1]
            try:
                values[key] = json.loads(value)
            except ValueError:
                warn(f'error: --config {key}:= takes JSON (587, null, ["a@example.com"])')
                raise typer.Exit(USAGE) from None
        elif secret and value == "-":
            values[key] = secret_from_stdin(key)
        else:
            values[key] = value
    return values


def secret_from_stdin(key: str) -> str:
    if sys.stdin.isatty():
        return typer.prompt(f"{key}", hide_input=True, err=True)
    value = sys.stdin.read().rstrip("\r\n")
    if not value:
        warn(f"error: --secret {key}=- read nothing from stdin")
        raise typer.Exit(USAGE)
    return value


def body_of(
    name: str | None,
    config: list[str] | None,
    secret: list[str] | None,
    team: str | None,
    tiers: list[Tier] | None,
    is_default: bool | None,
    enabled: bool | None,
) -> dict[str, Any]:
    """The JSON body: only what was given (a PATCH changes only the fields sent)."""
    body: dict[str, Any] = {
        "name": name,
        "config": settings(config, secret=False) or None,
        "secrets": settings(secret, secret=True) or None,
        "tiers": [tier.value for tier in tiers] if tiers else None,
        "is_default": is_default,
        "enabled": enabled,
    }
    body = {key: value for key, value in body.items() if value is not None}
    if team is not None:
        body["team_id"] = team or None
    return body


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Unique name.")],
    kind: Annotated[DestinationKind, typer.Option(case_sensitive=False, help="What it sends to.")],
    config: Configs = None,
    secret: Secrets = None,
    team: Team = None,
    tier: Tiers = None,
    is_default: Default = None,
    enabled: Enabled = None,
) -> None:
    """Create a destination (admin key). Settings per kind: docs/destinations.md."""
    body = {"kind": kind.lower(), **body_of(name, config, secret, team, tier, is_default, enabled)}
    out().record(api().post(PATH, body))


@app.command()
def update(
    destination_id: DestId,
    name: Name = None,
    kind: Annotated[
        DestinationKind | None,
        typer.Option(case_sensitive=False, help="Must stay the same (the API refuses a change: exit 2)."),
    ] = None,
    config: Configs = None,
    secret: Secrets = None,
    team: Team = None,
    tier: Tiers = None,
    is_default: Default = None,
    enabled: Enabled = None,
) -> None:
    """Change a destination (admin key): only what is given changes; secrets and config keys left out stay."""
    body = body_of(name, config, secret, team, tier, is_default, enabled)
    if kind is not None:
        body["kind"] = kind.lower()
    if not body:
        warn(
            "error: nothing to change: give --name, --config, --secret, --team, --tier, --default or --enable"
        )
        raise typer.Exit(USAGE)
    out().record(api().patch(f"{PATH}/{destination_id}", body))


@app.command()
def delete(destination_id: DestId) -> None:
    """Delete a destination (admin key); exit 5 while a renewal policy names it or it is a built-in one."""
    api().delete(f"{PATH}/{destination_id}")
    out().message({"id": destination_id, "status": "deleted"}, f"deleted {destination_id}")


@app.command("test")
def send_test(
    destination_id: DestId,
    recipient: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Email destinations: where the test goes.")
    ] = None,
) -> None:
    """Send a test message now (admin key); exit 1 when it was not delivered."""
    result = api().post(f"{PATH}/{destination_id}/test", {"recipient": recipient} if recipient else {})
    verdict = "delivered" if result["ok"] else "failed"
    out().message(result, f"{destination_id}: {verdict}: {result['detail']}", ident="destination_id")
    if not result["ok"]:
        raise typer.Exit(1)
