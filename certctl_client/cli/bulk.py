"""`certctl revoke-bulk`: find the matching certificates, confirm, revoke them in batches behind a progress bar."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from certctl_client.cli.certs import PATH
from certctl_client.cli.errors import FAILED, USAGE
from certctl_client.cli.output import stderr, warn
from certctl_client.cli.session import api, out
from certctl_client.vocabulary import RevocationReason

TOTALS = ("total_matched", "total_revoked", "total_skipped", "total_failed")
Criterion = Annotated[str | None, typer.Option(metavar="ID")]


def matching_ids(criteria: dict, ids: list[str]) -> list[str]:
    """The certificates the bulk endpoint would match now: the list endpoint takes the same filters."""
    filters = {key: value for key, value in criteria.items() if value}
    if not filters:
        return list(dict.fromkeys(ids))
    wanted = set(ids)
    return [
        row["id"] for row in api().paginate(PATH, page_size=500, **filters) if not ids or row["id"] in wanted
    ]


def revoke_bulk(
    reason: Annotated[RevocationReason, typer.Option("--reason", "-r", help="RFC 5280 reason (required).")],
    team: Annotated[
        str | None, typer.Option(metavar="TEAM_ID", help="Every certificate of this team.")
    ] = None,
    issuer: Annotated[str | None, typer.Option(metavar="ISSUER_ID", help="... of this issuer.")] = None,
    owner: Annotated[str | None, typer.Option(metavar="OWNER_ID", help="... of this owner.")] = None,
    profile: Annotated[str | None, typer.Option(metavar="PROFILE_ID", help="... of this profile.")] = None,
    agent: Annotated[str | None, typer.Option(metavar="AGENT_ID", help="... deployed by this agent.")] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--ids", metavar="ID,...", help="These certificates (comma-separated)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=500, help="Certificates per request.")] = 100,
) -> None:
    """Revoke every certificate matching all the given criteria (admin key). Asks first unless --yes."""
    criteria = {
        "team_id": team,
        "issuer_id": issuer,
        "owner_id": owner,
        "profile_id": profile,
        "agent_id": agent,
    }
    id_list = [part.strip() for value in ids or [] for part in value.split(",") if part.strip()]
    if not id_list and not any(criteria.values()):
        warn("error: give at least one of --team, --issuer, --owner, --profile, --agent, --ids")
        raise typer.Exit(USAGE)
    matched = matching_ids(criteria, id_list)
    described = ", ".join(f"{key.removesuffix('_id')}={value}" for key, value in criteria.items() if value)
    described = described or f"{len(id_list)} id(s)"
    if not matched:
        warn(f"no certificate matches {described}")
    elif not yes:
        if not sys.stdin.isatty():
            warn("error: refusing to revoke without confirmation: pass --yes (stdin is not a terminal)")
            raise typer.Exit(USAGE)
        typer.confirm(f"Revoke {len(matched)} certificate(s) ({described}) as {reason}?", abort=True)
    result: dict = {key: 0 for key in TOTALS} | {"errors": []}
    columns = (TextColumn("revoking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True, disable=not matched) as progress:
        task = progress.add_task("revoke", total=len(matched))
        for start in range(0, len(matched), batch_size):
            chunk = matched[start : start + batch_size]
            body = {key: value for key, value in criteria.items() if value}
            answer = api().post(f"{PATH}/bulk-revoke", {**body, "certificate_ids": chunk, "reason": reason})
            for key in TOTALS:
                result[key] += answer.get(key, 0)
            result["errors"].extend(answer.get("errors", []))
            progress.advance(task, len(chunk))
    for error in result["errors"]:
        warn(f"{error['certificate_id']}: {error['error']}")
    if out().mode == "json" and not out().quiet:
        out().json(result)
    elif not out().quiet:
        out().record({key.removeprefix("total_"): result[key] for key in TOTALS})
    if result["total_failed"]:
        raise typer.Exit(FAILED)
