"""Tens of thousands of rows in one PostgreSQL statement: `INSERT … SELECT … FROM unnest(arrays)`.

`bulk_create` builds a model instance per row and prepares every value of every field; for the expiry check's
25,000 alerts and 35,000 audit events that is most of the run. Here each varying column is one array parameter,
each column that is the same for every row is one scalar, and every field not given gets its model default
(`auto_now`/`auto_now_add` fields get the current time), so a field added to the model later still gets a value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, models
from django.utils import timezone


def _cast(field: models.Field) -> str:
    # Parameters dropped as Django's own UNNEST path does: varchar[] instead of varchar(40)[].
    return field.db_type(connection).split("(")[0]


# Field classes whose `get_db_prep_save` returns a value of these exact types unchanged (Django's to_python and
# get_prep_value are identities for them), on every backend (not integers: on PostgreSQL Django types them as
# Int4/Int8); and DateTimeField for aware datetimes on PostgreSQL.
_UNCHANGED: dict[type[models.Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.EmailField: (str,),
    models.SlugField: (str,),
    models.BooleanField: (bool,),
}


def db_value(field: models.Field, *, json_as_text: bool = False) -> Callable[[Any], Any]:
    """The function that prepares `field`'s values for the database exactly as `save()` does.

    Each value through `get_db_prep_save` costs a few microseconds of Django's field machinery; for the common
    types that it returns unchanged the returned function skips it, which is most of a row. `json_as_text`
    gives JSON as a string (for arrays cast to jsonb[]) instead of psycopg's Jsonb wrapper.
    """
    return _db_value(field, json_as_text, connection.vendor)


@functools.cache
def _db_value(field: models.Field, json_as_text: bool, vendor: str) -> Callable[[Any], Any]:
    if isinstance(field, models.JSONField):
        if json_as_text:
            return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
        return lambda value: field.get_db_prep_save(value, connection)
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    # On PostgreSQL adapt_datetimefield_value is an identity: aware datetimes pass as they are.
    if type(target) is models.DateTimeField and vendor == "postgresql":

        def prepare_datetime(value: Any) -> Any:
            if value is None or (type(value) is datetime and value.tzinfo is not None):
                return value
            return field.get_db_prep_save(value, connection)

        return prepare_datetime
    unchanged = _UNCHANGED.get(type(target))
    if unchanged is None:
        return lambda value: field.get_db_prep_save(value, connection)

    def prepare(value: Any) -> Any:
        if value is None or type(value) in unchanged:
            return value
        return field.get_db_prep_save(value, connection)

    return prepare


def _db_values(field: models.Field, values: Sequence[Any]) -> Sequence[Any]:
    """`db_value(field, json_as_text=True)` of every value; a column whose values are all of a type that passes
    unchanged (most text columns) is checked by type in one pass instead of one call per value."""
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    unchanged = _UNCHANGED.get(type(target))
    if unchanged is not None and set(map(type, values)) <= {*unchanged, type(None)}:
        return list(values)  # a list dumps as an array (a tuple would be a record)
    prepare = db_value(field, json_as_text=True)
    return [prepare(value) for value in values]


def insert_unnest(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
    ignore_conflicts_on: str | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Insert one row per position of the `columns` lists (keyed by attname); PostgreSQL only.

    With `ignore_conflicts_on` (a unique column) rows that would violate it are skipped; with `returning` the
    values of that column for the rows actually inserted are returned.
    """
    lengths = {len(values) for values in columns.values()}
    assert len(lengths) == 1, "every column needs one value per row"
    if lengths == {0}:
        return []
    sql, params = unnest_statement(model, columns, constants=constants)
    if ignore_conflicts_on:
        sql += f" ON CONFLICT ({connection.ops.quote_name(ignore_conflicts_on)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {connection.ops.quote_name(returning)}"
    with _binding_cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()] if returning else []


def _binding_cursor():
    """A Django cursor (execute wrappers, query log, error mapping) over a server-binding psycopg cursor: Django's
    own binds client-side, which quotes every array element in Python and ignores the binary `%b`."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def unnest_statement(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
) -> tuple[str, list[Any]]:
    """The `INSERT … SELECT … FROM unnest(…)` statement and its parameters (PostgreSQL only), for
    `insert_unnest` and for callers that send it with other statements (`certctl.kernel.rows.write`)."""
    assert connection.vendor == "postgresql", "unnest inserts need PostgreSQL"
    constants = dict(constants or {})
    now = timezone.now()
    names, selects, scalar_params, array_casts, array_params = [], [], [], [], []
    for field in model._meta.concrete_fields:
        names.append(connection.ops.quote_name(field.column))
        if field.attname in columns:
            # Binary arrays: psycopg's text array dumper quotes every element in Python (~10 % of a batched
            # issuance); the binary one packs them and lets the server skip parsing the array literal.
            array_casts.append(f"%b::{_cast(field)}[]")
            array_params.append(_db_values(field, columns[field.attname]))
            selects.append(f"u.c{len(array_casts)}")
            continue
        if field.attname in constants:
            value = constants[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        selects.append(f"%s::{_cast(field)}")
        scalar_params.append(db_value(field, json_as_text=True)(value))
    aliases = ", ".join(f"c{i}" for i in range(1, len(array_casts) + 1))
    # Every identifier comes from the model's metadata; every value is a parameter.
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(selects)} "
    sql += f"FROM unnest({', '.join(array_casts)}) AS u({aliases})"
    return sql, [*scalar_params, *array_params]
