"""Page paging (`page`, `per_page`) with the real total, and keyset paging (`cursor`) for large inventories."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

# Keeps OFFSET inside PostgreSQL's bigint; nobody pages this far on purpose.
MAX_PAGE = 10_000_000


def _int_param(request, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError({name: [f"must be an integer, got {raw!r}"]}) from exc
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise ValidationError({name: [f"must be between {minimum}{upper}"]})
    return value


def exact_total(queryset: QuerySet, view) -> int:
    """The number of rows the list matches: the view's `exact_total(queryset)` when it has one and it can say
    (counters kept by the database), else a row count."""
    counted = getattr(view, "exact_total", None)
    total = counted(queryset) if counted is not None else None
    return queryset.count() if total is None else total


class PagePagination(pagination.BasePagination):
    """`{"data", "total", "page", "per_page"}`; `total` is the count of every matching row."""

    def paginate_queryset(self, queryset, request, view=None):
        self.per_page = _int_param(request, "per_page", settings.API_PAGE_SIZE, 1, settings.API_MAX_PAGE_SIZE)
        self.page = _int_param(request, "page", 1, 1, MAX_PAGE)
        self.total = exact_total(queryset, view)
        start = (self.page - 1) * self.per_page
        return list(queryset[start : start + self.per_page])

    def get_paginated_response(self, data):
        return Response({"data": data, "total": self.total, "page": self.page, "per_page": self.per_page})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["data", "total", "page", "per_page"],
            "properties": {
                "data": schema,
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            },
        ]


def encode_cursor(created_at: datetime, pk: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.split("|", 1)
        created_at = parse_datetime(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError({"cursor": ["invalid cursor"]}) from exc
    if created_at is None or not pk:
        raise ValidationError({"cursor": ["invalid cursor"]})
    return created_at, pk


class KeysetPagination(PagePagination):
    """Cursor mode when `cursor` or `page_size` is given: stable order `created_at DESC, id DESC`.

    `{"data", "total", "page_size", "next_cursor"}`; `next_cursor` is null on the last page. Rows created while a
    client walks the inventory appear before its starting point, so a walk neither repeats nor skips a row.
    """

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        params = request.query_params
        self.cursor_mode = "cursor" in params or "page_size" in params
        if not self.cursor_mode:
            return super().paginate_queryset(queryset, request, view)
        self.page_size = _int_param(
            request, "page_size", settings.API_PAGE_SIZE, 1, settings.API_MAX_PAGE_SIZE
        )
        self.total = exact_total(queryset, view)
        queryset = queryset.order_by("-created_at", "-pk")
        cursor = params.get("cursor")
        if cursor:
            created_at, pk = decode_cursor(cursor)
            # `created_at <= cursor` on its own is what lets the index start at the cursor instead of scanning
            # every newer row, so a page deep in the walk costs what the first one does.
            queryset = queryset.filter(
                Q(created_at__lte=created_at), Q(created_at__lt=created_at) | Q(pk__lt=pk)
            )
        rows = list(queryset[: self.page_size + 1])
        self.next_cursor = (
            encode_cursor(rows[-2].created_at, rows[-2].pk) if len(rows) > self.page_size else None
        )
        return rows[: self.page_size]

    def get_paginated_response(self, data):
        if not self.cursor_mode:
            return super().get_paginated_response(data)
        return Response(
            {"data": data, "total": self.total, "page_size": self.page_size, "next_cursor": self.next_cursor}
        )

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            },
        ]
