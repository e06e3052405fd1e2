"""Writing new model rows with Django's own column preparation, without the query machinery.

`Model.save()` on a new row costs ~0.2 ms of Python (signals, the query and compiler objects); hot paths that
write several rows per operation (issuance: version, outbox row, audit row) use this instead. The values are
prepared exactly as `save()` prepares them (`pre_save` with add=True, `get_db_prep_save`); no signals are
sent, so use it only for models nothing listens to.

- `insert(instance)` writes one row.
- `write(instances, postgres_updates=...)` writes several rows, and optionally UPDATEs, as **one statement**
  on PostgreSQL (`WITH w0 AS (UPDATE …), w1 AS (INSERT … VALUES (…), (…)) INSERT …`): one statement is atomic,
  so a caller that needs nothing else in the transaction can run it in autocommit and pay one round trip and no
  BEGIN/COMMIT. PostgreSQL runs every data-modifying CTE exactly once, read or not (all see the snapshot from
  before the statement; Django's foreign keys are checked at commit). The statement is sent with server-side
  parameters and, when small and unless `CERTCTL_DB_PREPARED_STATEMENTS` is off (poolers that cannot keep
  prepared statements), prepared once per connection and shape. Elsewhere (SQLite) the rows are inserted one by
  one inside `transaction.atomic()`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, models, transaction

from certctl.kernel.bulk_insert import db_value, unnest_statement

Statement = tuple[str, Sequence[Any]]
# Statements of up to this many rows (one issuance: version, outbox and audit rows, a few more) are prepared
# once per connection; bigger batches vary in shape and are planned each time.
PREPARE_MAX_ROWS = 16


def insert(instance: models.Model) -> None:
    _require_ids([instance])
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(type(instance), 1), _values(instance))
    _mark_saved(instance)


def write(
    instances: Sequence[models.Model],
    *,
    postgres_updates: Sequence[Statement] = (),
    postgres_query: Statement | None = None,
) -> list[tuple] | None:
    """Insert `instances` (new rows of models whose primary key is set in Python, as certctl's ids are) and, on
    PostgreSQL, run `postgres_updates` with them.

    All or nothing: on PostgreSQL one statement (one multi-row INSERT per model, each update a CTE), elsewhere
    one atomic block of single-row INSERTs; callers do their updates with the ORM there. Errors surface as
    Django's database exceptions (IntegrityError, ...). `postgres_query`, a SELECT, ends that statement (the
    writes become CTEs) and its rows are returned, which saves its round trip; it sees the database as it was
    before the writes (one snapshot). Elsewhere, and when not given, the result is None.
    """
    if not instances and not postgres_updates:
        return None
    _require_ids(instances)
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for instance in instances:
                insert(instance)
        return None
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for instance in instances:
        by_model.setdefault(type(instance), []).append(instance)
    small = len(instances) <= PREPARE_MAX_ROWS
    statements = [*((sql, list(params)) for sql, params in postgres_updates)]
    for model, group in by_model.items():
        if small:  # VALUES (…), (…): a fixed shape PostgreSQL plans once per connection
            values = [value for instance in group for value in _values(instance)]
            statements.append((_insert_sql(model, len(group)), values))
        else:  # one array per column: the statement text stays short whatever the number of rows
            fields = model._meta.concrete_fields
            columns = {
                field.attname: [field.pre_save(instance, True) for instance in group] for field in fields
            }
            statements.append(unnest_statement(model, columns))
    if postgres_query is not None:
        statements.append((postgres_query[0], list(postgres_query[1])))
    *ctes, (last_sql, last_params) = statements
    sql = "".join(f"{'WITH' if n == 0 else ','} w{n} AS ({cte_sql}) " for n, (cte_sql, _) in enumerate(ctes))
    params = [value for _, values in ctes for value in values] + last_params
    found = _execute(sql + last_sql, params, prepare=small, fetch=postgres_query is not None)
    for instance in instances:
        _mark_saved(instance)
    return found


def _execute(sql: str, params: list[Any], *, prepare: bool, fetch: bool = False) -> list[tuple] | None:
    """One statement through a server-binding psycopg cursor on Django's connection, with Django's checks."""
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    # Preparing needs the connection's prepare_threshold (settings.py).
    prepare = prepare and settings.DB_PREPARED_STATEMENTS
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchall() if fetch else None


def _require_ids(instances: Sequence[models.Model]) -> None:
    for instance in instances:
        if instance.pk is None:  # an AutoField would be written as NULL: nothing here asks for RETURNING
            raise ValueError(
                f"{type(instance).__name__} has no primary key value; certctl.kernel.rows writes set ids only"
            )


def _values(instance: models.Model) -> list[Any]:
    return [
        prepare(field.pre_save(instance, True))
        for field, prepare in _preparers(type(instance), connection.vendor)
    ]


@functools.cache
def _preparers(model: type[models.Model], vendor: str) -> list[tuple[models.Field, Any]]:
    return [(field, db_value(field)) for field in model._meta.concrete_fields]


def _mark_saved(instance: models.Model) -> None:
    instance._state.adding = False
    instance._state.db = connection.alias


@functools.lru_cache(maxsize=256)
def _insert_sql(model: type[models.Model], rows: int) -> str:
    qn = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(qn(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"  # noqa: S608 - our model
