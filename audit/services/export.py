"""CSV and JSON Lines exports of the audit trail, produced row by row from a server-side cursor."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, QuerySet

from audit.services.chain import iso_timestamp

COLUMNS = (
    "id", "seq", "timestamp", "actor", "actor_type", "action", "resource_type", "resource_id", "details",
    "prev_hash", "row_hash",
)  # fmt: skip
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
CHUNK_ROWS = 1000
# A spreadsheet runs cells that start with these as formulas; the CSV export quotes them with a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rows(queryset: QuerySet) -> Iterator[dict]:
    ordered = queryset.order_by(F("seq").asc(nulls_last=True), "timestamp", "id")
    for row in ordered.values(*COLUMNS).iterator(chunk_size=CHUNK_ROWS):
        row["timestamp"] = iso_timestamp(row["timestamp"])
        yield row


def _safe_cell(value) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(queryset: QuerySet) -> Iterator[str]:
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(COLUMNS)
    for count, row in enumerate(_rows(queryset), start=1):
        details = json.dumps(row["details"], cls=DjangoJSONEncoder, sort_keys=True) if row["details"] else ""
        row["details"] = details
        out.writerow([_safe_cell(row[name]) for name in COLUMNS])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl(queryset: QuerySet) -> Iterator[str]:
    lines: list[str] = []
    for row in _rows(queryset):
        lines.append(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n")
        if len(lines) >= CHUNK_ROWS:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def export_lines(queryset: QuerySet, fmt: str) -> Iterator[str]:
    """The export of `queryset` in chain order (`seq`; rows not sealed yet last), chunked for streaming."""
    return _csv(queryset) if fmt == "csv" else _jsonl(queryset)
