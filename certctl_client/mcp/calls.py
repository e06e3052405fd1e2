"""How a certctl tool calls the API: the client's errors as tool errors, IDs quoted into paths, capped lists.

An API error (or an unreachable server) becomes a ToolError, which the SDK returns as an `isError` result carrying
the API's code and message: the assistant reads it and the server keeps running.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ParamSpec, TypeVar
from urllib.parse import quote

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from certctl_client.api import Api, ApiError, NetworkError

P = ParamSpec("P")
R = TypeVar("R")

MAX_LIMIT = 500  # the API's largest page (`per_page` 1..500)

CertificateId = Annotated[
    str,
    Field(min_length=1, max_length=64, description="Certificate ID as the API returns it, e.g. cert-01J..."),
]
Limit = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LIMIT,
        description="Most rows to return (1..500). The answer has `total` and a `note` when more rows match.",
    ),
]


def reports_api_errors(tool: Callable[P, R]) -> Callable[P, R]:
    """Turn the client's errors into tool errors the assistant can read: `code: message (fields) [HTTP n, ...]`."""

    @functools.wraps(tool)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return tool(*args, **kwargs)
        except ApiError as exc:
            raise ToolError(_api_error_text(exc)) from exc
        except NetworkError as exc:
            raise ToolError(f"network_error: {exc}") from exc

    return call


def _api_error_text(exc: ApiError) -> str:
    """`conflict: cannot requeue ... [HTTP 409, request_id ...]`, with the per-field messages the text lacks."""
    text = f"{exc.code}: {exc}"
    where = f"HTTP {exc.status}" + (f", request_id {exc.request_id}" if exc.request_id else "")
    return f"{text} [{where}]"


def utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_path(*parts: str) -> str:
    """An API path with each ID quoted, so an ID can never reach another endpoint (`../teams`)."""
    return "/api/v1/" + "/".join(quote(part, safe="") for part in parts)


def listing(key: str, rows: list[dict], total: int, more_hint: str) -> dict[str, Any]:
    answer: dict[str, Any] = {key: rows, "count": len(rows), "total": total}
    if total > len(rows):
        answer["note"] = f"showing {len(rows)} of {total}; {more_hint}"
    return answer


class ApiTools:
    """What every group of tools shares: one API connection (sync: the SDK runs each call on a worker thread)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def _page(self, key: str, path: str, limit: int, **filters: Any) -> dict[str, Any]:
        body = self.api.get(path, per_page=limit, page=1, **filters)
        rows = body.get("data", [])
        hint = f"raise limit (max {MAX_LIMIT}) or narrow the filters to see the rest"
        return listing(key, rows, int(body.get("total", len(rows))), hint)

    def _team_id(self, team: str) -> str:
        """The ID of the team with this ID or name (names may look like IDs, so both are compared)."""
        for row in self.api.paginate("/api/v1/teams"):
            if row.get("id") == team or str(row.get("name", "")).casefold() == team.casefold():
                return str(row["id"])
        raise ToolError(
            f"not_found: no team named {team!r} (pass a team ID, team-..., or an exact team name)"
        )
