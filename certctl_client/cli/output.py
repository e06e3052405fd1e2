"""How results reach stdout: Rich tables for people, `--output json` (the API's objects as they come) for scripts,
`--quiet` for ids only. Errors and progress go to stderr, so stdout stays parseable."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

Mode = Literal["table", "json"]

# Piped into a file or another program, Rich would wrap tables at 80 columns; keep rows on one line there.
stdout = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 250, highlight=False)
stderr = Console(stderr=True, highlight=False)


def cell(value: Any) -> str:
    """One table cell: lists joined, mappings as `k=v`, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={cell(item)}" for key, item in value.items())
    return str(value)


class Renderer:
    """Renders API objects in the mode the user chose; commands say which columns a table shows."""

    def __init__(self, mode: Mode = "table", quiet: bool = False) -> None:
        self.mode, self.quiet = mode, quiet

    def rows(
        self,
        rows: Iterable[dict],
        columns: Sequence[str],
        *,
        caption: str | None = None,
        title: str | None = None,
    ) -> None:
        rows = list(rows)
        if self.quiet:
            for row in rows:
                print(row.get("id", ""))
        elif self.mode == "json":
            self.json(rows)
        else:
            table = Table(
                *columns, title=title, title_justify="left", caption=caption, caption_justify="left"
            )
            for row in rows:
                table.add_row(*(cell(row.get(column)) for column in columns))
            stdout.print(table)

    def record(self, record: dict, *, fields: Sequence[str] | None = None, ident: str = "id") -> None:
        """One object: a two-column table of its fields (all, or `fields`), its id with --quiet."""
        if self.quiet:
            print(record.get(ident, ""))
        elif self.mode == "json":
            self.json(record)
        else:
            table = Table("field", "value", show_header=False)
            for name in fields or list(record):
                table.add_row(name, cell(record.get(name)))
            stdout.print(table)

    def message(self, record: Any, text: str, *, ident: str | None = "id") -> None:
        """The answer to an action: the API's object with --output json, its id with --quiet, `text` otherwise."""
        if self.quiet:
            if ident and isinstance(record, dict) and record.get(ident):
                print(record[ident])
        elif self.mode == "json":
            self.json(record)
        else:
            stdout.print(text, markup=False)

    @staticmethod
    def json(value: Any) -> None:
        print(json.dumps(value, indent=2, sort_keys=False))


def warn(text: str) -> None:
    """One line on stderr, never wrapped (scripts grep it)."""
    print(text, file=sys.stderr, flush=True)
