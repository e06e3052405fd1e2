"""Exact certificate counts read from the counter tables the database keeps (migration 0040), not by counting rows.

`certificates_count_by_team` answers any mix of team, environment and status; `certificates_count_by_expiry`
answers expiry ranges by whole UTC days, and the rows of the two partial days at the ends of a range are counted
from the table through its expiry indexes, so a range count reads a few thousand counter rows and two days of
index at most, whatever the inventory's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection

from certificates.enums import CertificateStatus
from certificates.inventory.models import ManagedCertificate

NO_EXPIRY = date(1, 1, 1)  # expires_day of a certificate without expires_at
BY_TEAM = "certificates_count_by_team"
BY_EXPIRY = "certificates_count_by_expiry"


def _day_param(day: date) -> date | str:
    return day if connection.vendor == "postgresql" else day.isoformat()


def _where(conditions: list[tuple[str, object]]) -> tuple[str, list]:
    clauses, params = [], []
    for clause, value in conditions:
        if isinstance(value, list | tuple | frozenset | set):
            values = sorted(value)
            if not values:
                return " WHERE false", []
            clauses.append(f"{clause} IN ({', '.join(['%s'] * len(values))})")
            params.extend(values)
        else:
            clauses.append(f"{clause} = %s")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def by_status(
    teams: Iterable[str] | None = None, team_id: str | None = None, environment: str | None = None
) -> dict[str, int]:
    """Certificates per status (every status, zeros too), of some teams and one environment when given."""
    conditions: list[tuple[str, object]] = []
    if teams is not None:
        conditions.append(("team_id", frozenset(teams)))
    if team_id is not None:
        conditions.append(("team_id", team_id))
    if environment is not None:
        conditions.append(("environment", environment))
    where, params = _where(conditions)
    counts = dict.fromkeys(CertificateStatus.values, 0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status, sum(n) FROM {BY_TEAM}{where} GROUP BY status", params)  # noqa: S608
        for status, n in cursor.fetchall():
            counts[status] = counts.get(status, 0) + int(n)
    return counts


def _status_sql(status_in: Iterable[str] | None, status_not_in: Iterable[str] | None) -> tuple[str, list]:
    sql, params = "", []
    if status_in is not None:
        values = sorted(status_in) or [""]
        sql += f" AND status IN ({', '.join(['%s'] * len(values))})"
        params += values
    if status_not_in:
        values = sorted(status_not_in)
        sql += f" AND status NOT IN ({', '.join(['%s'] * len(values))})"
        params += values
    return sql, params


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _rows_between(lower: tuple[str, datetime], upper: tuple[str, datetime], filters: tuple[str, list]):
    """A row count of certificates with expires_at between two bounds, as (sql, params); served by the
    (expires_at, status) and (environment, expires_at, id) indexes."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"SELECT count(*) FROM {ManagedCertificate._meta.db_table} WHERE expires_at {lower[0]} %s "  # noqa: S608
    sql += f"AND expires_at {upper[0]} %s{filters[0]}"
    return sql, [adapt(lower[1]), adapt(upper[1]), *filters[1]]


def _range_parts(
    after: datetime | None,
    before: datetime | None,
    *,
    after_inclusive: bool = False,
    before_inclusive: bool = False,
    status_in: Iterable[str] | None = None,
    status_not_in: Iterable[str] | None = None,
    environment: str | None = None,
) -> list[tuple[str, list]]:
    """Scalar subqueries whose sum is `expiring_between(...)`."""
    if (
        after is not None
        and before is not None
        and (after > before or (after == before and not (after_inclusive and before_inclusive)))
    ):
        return []
    status_sql, status_params = _status_sql(status_in, status_not_in)
    filters = (status_sql, status_params)
    if environment is not None:
        filters = (f" AND environment = %s{status_sql}", [environment, *status_params])
    lower = (">=" if after_inclusive else ">", after)
    upper = ("<=" if before_inclusive else "<", before)
    first = after.astimezone(UTC).date() if after is not None else None
    last = before.astimezone(UTC).date() if before is not None else None
    if first is not None and first == last:
        return [_rows_between(lower, upper, filters)]
    # Whole days strictly between the bounds' days come from the counters ...
    sql = f"SELECT sum(n) FROM {BY_EXPIRY} WHERE expires_day > %s"  # noqa: S608 - our table
    params: list = [_day_param(first if first is not None else NO_EXPIRY)]
    if last is not None:
        sql += " AND expires_day < %s"
        params.append(_day_param(last))
    parts = [(sql + filters[0], params + filters[1])]
    # ... the bounds' own days from the rows.
    if first is not None:
        parts.append(_rows_between(lower, ("<", _midnight(first + timedelta(days=1))), filters))
    if last is not None:
        parts.append(_rows_between((">=", _midnight(last)), upper, filters))
    return parts


def _select_sums(columns: list[list[tuple[str, list]]]) -> list[int]:
    """One statement answering several sums of scalar subqueries (one round trip for the whole stats card)."""
    selects, params = [], []
    for parts in columns:
        selects.append(" + ".join(f"COALESCE(({sql}), 0)" for sql, _ in parts) or "0")
        params += [p for _, part_params in parts for p in part_params]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        return [int(value) for value in cursor.fetchone()]


def expiring_between(
    after: datetime | None = None,
    before: datetime | None = None,
    *,
    after_inclusive: bool = False,
    before_inclusive: bool = False,
    status_in: Iterable[str] | None = None,
    status_not_in: Iterable[str] | None = None,
    environment: str | None = None,
) -> int:
    """Certificates whose expires_at is after `after` and before `before` (each bound open unless `_inclusive`,
    None for no bound; certificates without expires_at never count), with the status and environment given."""
    parts = _range_parts(
        after,
        before,
        after_inclusive=after_inclusive,
        before_inclusive=before_inclusive,
        status_in=status_in,
        status_not_in=status_not_in,
        environment=environment,
    )
    return _select_sums([parts])[0] if parts else 0


def total(
    *,
    teams: Iterable[str] | None = None,
    team_id: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    expires_after: datetime | None = None,
    expires_before: datetime | None = None,
) -> int | None:
    """The number of certificates matching these certificate-list filters, or None when the counters cannot say
    (a team filter together with an expiry bound): the caller then counts rows."""
    statuses = [status] if status is not None else None
    if expires_after is None and expires_before is None:
        counts = by_status(teams, team_id, environment)
        return counts.get(status, 0) if status is not None else sum(counts.values())
    if teams is not None or team_id is not None:
        return None
    return expiring_between(expires_after, expires_before, status_in=statuses, environment=environment)


def summary(now: datetime, expiring_days: Iterable[int]) -> dict:
    """The stats buckets of certctl.services.stats, in one statement: per status, live, revoked, expired and
    expiring within each of `expiring_days` (the definitions of certificates.inventory.querysets.expiry_buckets)."""
    S = CertificateStatus
    settled = (S.ARCHIVED, S.REVOKED, S.EXPIRED)  # no longer counted by their expiry time
    expiring_days = list(expiring_days)
    statuses = list(CertificateStatus.values)
    columns = [[(f"SELECT sum(n) FROM {BY_TEAM} WHERE status = %s", [status])] for status in statuses]  # noqa: S608
    columns.append(_range_parts(None, now, before_inclusive=True, status_not_in=settled))
    for days in expiring_days:
        columns.append(
            _range_parts(now, now + timedelta(days=days), before_inclusive=True, status_not_in=settled)
        )
    values = _select_sums(columns)
    by_status = dict(zip(statuses, values, strict=False))
    return {
        "by_status": by_status,
        "live": sum(by_status.values()) - by_status[S.ARCHIVED],
        "revoked": by_status[S.REVOKED],
        "expired": by_status[S.EXPIRED] + values[len(statuses)],
        "expiring": dict(zip(expiring_days, values[len(statuses) + 1 :], strict=True)),
    }
