"""The triggers that keep the certificate counter tables (certificates.inventory.counts reads them), for PostgreSQL
and SQLite. Migration certificates/0040 creates them; on SQLite a table rebuild (what a later AlterField there does)
drops a table's triggers, so `ensure_sqlite_counters` (after every migrate) puts them back and recounts.

  certificates_count_by_team    (team_id, environment, status) -> n
  certificates_count_by_expiry  (environment, status, expires_day) -> n; expires_day is the UTC day of
                                expires_at, 0001-01-01 for none
PostgreSQL: statement triggers over transition tables, one upsert per changed key and statement (an UPDATE that
changes no counted column writes nothing), and TRUNCATE empties the counters; SQLite: row triggers.
"""

# ruff: noqa: S608 - the SQL here is built from this module's constants only

from __future__ import annotations

TABLE = "certificates_managedcertificate"

TABLES = """
CREATE TABLE certificates_count_by_team (
    team_id varchar(40) NOT NULL, environment varchar(64) NOT NULL, status varchar(32) NOT NULL,
    n bigint NOT NULL, PRIMARY KEY (team_id, environment, status));
CREATE TABLE certificates_count_by_expiry (
    environment varchar(64) NOT NULL, status varchar(32) NOT NULL, expires_day {day_type} NOT NULL,
    n bigint NOT NULL, PRIMARY KEY (environment, status, expires_day));
"""

PG_DAY = "COALESCE((expires_at AT TIME ZONE 'UTC')::date, DATE '0001-01-01')"

# Deltas of one statement, net per key (ORDER BY: concurrent writers lock counter rows in the same order).
PG_UPSERT = f"""
    INSERT INTO certificates_count_by_team AS c (team_id, environment, status, n)
        SELECT team_id, environment, status, sum(k) FROM changes GROUP BY 1, 2, 3 HAVING sum(k) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (team_id, environment, status) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO certificates_count_by_expiry AS c (environment, status, expires_day, n)
        SELECT environment, status, {PG_DAY}, sum(k) FROM changes GROUP BY 1, 2, 3 HAVING sum(k) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (environment, status, expires_day) DO UPDATE SET n = c.n + excluded.n;
"""

COLUMNS = "team_id, environment, status, expires_at"

PG_FUNCTIONS = {
    "insert": f"SELECT {COLUMNS}, 1 AS k FROM new_rows",
    "delete": f"SELECT {COLUMNS}, -1 AS k FROM old_rows",
    "update": f"SELECT {COLUMNS}, 1 AS k FROM new_rows UNION ALL SELECT {COLUMNS}, -1 FROM old_rows",
}
PG_REFERENCING = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _postgresql_sql() -> str:
    parts = [TABLES.format(day_type="date")]
    for op, changes in PG_FUNCTIONS.items():
        upsert = PG_UPSERT.replace("FROM changes", f"FROM ({changes}) AS changes")
        parts.append(
            f"CREATE FUNCTION certificates_count_{op}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{upsert}\nRETURN NULL;\nEND $$;\n"
            f"CREATE TRIGGER certificates_count_{op} AFTER {op.upper()} ON {TABLE} "
            f"REFERENCING {PG_REFERENCING[op]} FOR EACH STATEMENT EXECUTE FUNCTION certificates_count_{op}();"
        )
    parts.append(
        "CREATE FUNCTION certificates_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN DELETE FROM certificates_count_by_team; DELETE FROM certificates_count_by_expiry; "
        "RETURN NULL; END $$;\n"
        f"CREATE TRIGGER certificates_count_truncate AFTER TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION certificates_count_truncate();"
    )
    # Writers wait while the counts of the rows already there are taken, so none is missed or counted twice.
    parts.append(f"LOCK TABLE {TABLE} IN SHARE MODE;")
    parts.append(
        PG_UPSERT.replace("FROM changes", f"FROM (SELECT {COLUMNS}, 1 AS k FROM {TABLE}) AS changes")
    )
    return "\n".join(parts)


SQLITE_DAY = "COALESCE(date({row}.expires_at), '0001-01-01')"


def _sqlite_add(row: str, k: int) -> str:
    return (
        "INSERT INTO certificates_count_by_team (team_id, environment, status, n) "
        f"VALUES ({row}.team_id, {row}.environment, {row}.status, {k}) "
        f"ON CONFLICT (team_id, environment, status) DO UPDATE SET n = n + {k};\n"
        "INSERT INTO certificates_count_by_expiry (environment, status, expires_day, n) "
        f"VALUES ({row}.environment, {row}.status, {SQLITE_DAY.format(row=row)}, {k}) "
        f"ON CONFLICT (environment, status, expires_day) DO UPDATE SET n = n + {k};\n"
    )


def _sqlite_statements() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COLUMNS.split(", "))
    return [
        *[s for s in TABLES.format(day_type="text").split(";") if s.strip()],
        f"CREATE TRIGGER certificates_count_insert AFTER INSERT ON {TABLE} BEGIN {_sqlite_add('NEW', 1)} END",
        f"CREATE TRIGGER certificates_count_delete AFTER DELETE ON {TABLE} BEGIN {_sqlite_add('OLD', -1)} END",
        f"CREATE TRIGGER certificates_count_update AFTER UPDATE OF {COLUMNS} ON {TABLE} WHEN {changed} "
        f"BEGIN {_sqlite_add('OLD', -1)} {_sqlite_add('NEW', 1)} END",
        "INSERT INTO certificates_count_by_team (team_id, environment, status, n) "
        f"SELECT team_id, environment, status, count(*) FROM {TABLE} GROUP BY 1, 2, 3",
        "INSERT INTO certificates_count_by_expiry (environment, status, expires_day, n) "
        f"SELECT environment, status, {SQLITE_DAY.format(row=TABLE)}, count(*) FROM {TABLE} GROUP BY 1, 2, 3",
    ]


DROP = {
    "postgresql": [
        *[f"DROP TRIGGER IF EXISTS certificates_count_{op} ON {TABLE}" for op in (*PG_FUNCTIONS, "truncate")],
        *[f"DROP FUNCTION IF EXISTS certificates_count_{op}()" for op in (*PG_FUNCTIONS, "truncate")],
    ],
    "sqlite": [f"DROP TRIGGER IF EXISTS certificates_count_{op}" for op in PG_FUNCTIONS],
}


def create_counters(apps, schema_editor) -> None:
    """Create the counter tables and triggers, and count the rows already there."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(_postgresql_sql())
    elif vendor == "sqlite":
        for statement in _sqlite_statements():
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"certificate counters need PostgreSQL or SQLite, not {vendor}")


def drop_counters(apps, schema_editor) -> None:
    """Drop the counter triggers and tables."""
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)
    schema_editor.execute("DROP TABLE IF EXISTS certificates_count_by_team")
    schema_editor.execute("DROP TABLE IF EXISTS certificates_count_by_expiry")


def ensure_sqlite_counters(using: str = "default", **kwargs) -> None:
    """On SQLite, recreate missing counter triggers (a table rebuild drops them) and recount the rows."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        tables = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "certificates_count_by_team" not in tables or TABLE not in tables:
            return  # not migrated this far (or rolled back): migration 0040 creates them
        triggers = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        if {f"certificates_count_{op}" for op in PG_FUNCTIONS} <= triggers:
            return
        for statement in DROP["sqlite"]:
            cursor.execute(statement)
        cursor.execute("DROP TABLE certificates_count_by_team")
        cursor.execute("DROP TABLE certificates_count_by_expiry")
        for statement in _sqlite_statements():
            cursor.execute(statement)
