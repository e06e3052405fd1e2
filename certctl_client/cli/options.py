"""Options several command groups share, so they read and behave the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

Limit = Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000, help="Rows to show without --all.")]
Every = Annotated[bool, typer.Option("--all", help="Walk every page and show every row.")]
PageSize = Annotated[
    int | None, typer.Option("--page-size", min=1, max=500, help="Rows per request (default 200).")
]
