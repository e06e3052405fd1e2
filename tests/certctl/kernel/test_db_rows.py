"""`rows.insert` / `rows.write`: rows like save() writes them, one statement per write, errors as Django's."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from psycopg.types.json import Jsonb

from audit.models import AuditEvent
from certctl.kernel import rows
from certctl.kernel.bulk_insert import db_value
from certificates.inventory.models import CertificateProfile, CertificateVersion, ManagedCertificate, Team
from certificates.issuance.models import Job
from notifications.models import NotificationEvent

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
# Columns that differ between any two new rows whoever writes them.
PER_ROW = {"id", "name", "created_at", "updated_at"}


def _stored(model, pk) -> dict:
    return model.objects.filter(pk=pk).values().get()


def _without(values: dict, columns: set[str]) -> dict:
    return {column: value for column, value in values.items() if column not in columns}


def _rename_team(team: Team, description: str, marker: str) -> rows.Statement:
    """An UPDATE for `postgres_updates`; `marker` makes its text (and so the prepared statement) this test's own."""
    return (
        f"UPDATE certificates_team SET description = %s WHERE id = %s AND {marker} = {marker}",  # noqa: S608 - literal
        [description, team.pk],
    )


def _prepared_statements() -> list[tuple[str, int]]:
    """This connection's prepared statements: (text, times executed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return cursor.fetchall()


def test_inserted_rows_read_back_like_rows_saved_by_the_orm():
    by_orm = CertificateProfile(name="by-orm")
    by_orm.save()
    by_rows = CertificateProfile(name="by-rows")
    rows.insert(by_rows)

    stored = _stored(CertificateProfile, by_rows.pk)
    assert _without(stored, PER_ROW) == _without(_stored(CertificateProfile, by_orm.pk), PER_ROW)
    assert stored["allowed_key_algorithms"] == by_orm.allowed_key_algorithms  # a callable JSON default
    assert stored["required_san_patterns"] == [] and stored["enabled"] is True
    # auto_now_add / auto_now are stamped on the instance and the row alike
    assert stored["created_at"] is not None and stored["created_at"] == by_rows.created_at
    assert stored["updated_at"] == by_rows.updated_at
    assert by_rows.id.startswith("prof-") and not by_rows._state.adding


def test_written_rows_of_several_models_read_back_like_saved_rows():
    details = {"serial": "0a1b", "sans": ["a.test", "b.test"], "nested": {"n": 1, "ok": True, "none": None}}
    orm_event = NotificationEvent(
        type="RenewalSuccess", channel="Email", message="issued", recipient="a@b.test"
    )
    orm_event.save()
    orm_audit = AuditEvent(
        action="certificate_issued",
        resource_type="certificate",
        resource_id="cert-1",
        actor="alice",
        actor_type="User",
        details=details,
        timestamp=NOW,
    )
    orm_audit.save()

    event = NotificationEvent(type="RenewalSuccess", channel="Email", message="issued", recipient="a@b.test")
    audit = AuditEvent(
        action="certificate_issued",
        resource_type="certificate",
        resource_id="cert-1",
        actor="alice",
        actor_type="User",
        details=details,
        timestamp=NOW,
    )
    rows.write([event, audit])

    stored_event = _stored(NotificationEvent, event.pk)
    assert _without(stored_event, PER_ROW) == _without(_stored(NotificationEvent, orm_event.pk), PER_ROW)
    assert (stored_event["status"], stored_event["retry_count"], stored_event["dedup_key"]) == (
        "pending",
        0,
        None,
    )
    assert stored_event["created_at"] is not None and stored_event["created_at"] == event.created_at
    stored_audit = _stored(AuditEvent, audit.pk)
    assert _without(stored_audit, {"id"}) == _without(_stored(AuditEvent, orm_audit.pk), {"id"})
    assert stored_audit["details"] == details


def test_a_write_of_several_models_and_an_update_is_one_prepared_statement():
    team = Team.objects.create(name="platform", description="before")
    marker = "'one statement'"

    for n in range(2):
        rows.write(
            [
                NotificationEvent(type="RenewalSuccess", channel="Email", message=f"issued {n}"),
                AuditEvent(
                    action="certificate_issued",
                    resource_type="certificate",
                    resource_id=f"c{n}",
                    actor="alice",
                    actor_type="User",
                    details={"n": n},
                ),
                AuditEvent(
                    action="job_completed",
                    resource_type="job",
                    resource_id=f"j{n}",
                    actor="alice",
                    actor_type="User",
                ),
            ],
            postgres_updates=[_rename_team(team, f"after {n}", marker)],
        )

    team.refresh_from_db()
    assert team.description == "after 1"
    assert NotificationEvent.objects.count() == 2 and AuditEvent.objects.count() == 4
    # One prepared statement holds the UPDATE and both models' INSERTs, planned once and run twice.
    (statement,) = [(text, runs) for text, runs in _prepared_statements() if marker in text]
    text, runs = statement
    assert text.startswith("WITH w0 AS (UPDATE certificates_team")
    assert 'INSERT INTO "notifications_notificationevent"' in text
    assert (
        text.count('INSERT INTO "audit_auditevent"') == 1 and text.count("), (") >= 1
    )  # two rows, one VALUES
    assert runs == 2


def test_nothing_is_prepared_when_prepared_statements_are_off(settings):
    settings.DB_PREPARED_STATEMENTS = False
    team = Team.objects.create(name="platform", description="before")
    marker = "'not prepared'"

    rows.write(
        [NotificationEvent(type="RenewalSuccess", channel="Email", message="issued")],
        postgres_updates=[_rename_team(team, "after", marker)],
    )

    team.refresh_from_db()
    assert team.description == "after"
    assert NotificationEvent.objects.filter(message="issued").exists()
    assert [text for text, _ in _prepared_statements() if marker in text] == []


def test_a_write_of_more_than_the_prepared_size_is_not_prepared():
    team = Team.objects.create(name="platform", description="before")
    marker = "'big write'"
    events = [
        NotificationEvent(type="RenewalSuccess", channel="Email", message=f"m{n}")
        for n in range(rows.PREPARE_MAX_ROWS + 1)
    ]

    rows.write(events, postgres_updates=[_rename_team(team, "after", marker)])

    team.refresh_from_db()
    assert team.description == "after"
    assert NotificationEvent.objects.count() == len(events)
    assert [text for text, _ in _prepared_statements() if marker in text] == []


def test_a_big_write_stores_every_row_with_its_values_nulls_and_json():
    count = 3 * rows.PREPARE_MAX_ROWS
    events = [
        NotificationEvent(
            type="ExpirationWarning",
            channel="Webhook" if n % 2 else "Email",
            message=f"message {n} with 'quotes', \"doubles\", {{braces}}, commas, a\nnewline, a backslash \\ and ünïcödé ✓",
            recipient="" if n % 3 else f"r{n}@example.test",
            severity_tier="critical" if n % 2 else "",
            threshold_days=None if n % 4 == 0 else n,
            dedup_key=None if n % 5 == 0 else f"dedup-{n}",
            next_retry_at=None if n % 2 else NOW + timedelta(minutes=n),
            last_error=None if n % 3 else "NULL",  # the word, not SQL NULL
        )
        for n in range(count)
    ]
    audits = [
        AuditEvent(
            action="certificate_issued",
            resource_type="certificate",
            resource_id=f"cert-{n}",
            actor="system",
            actor_type="System",
            details=None if n == 0 else {"n": n, "list": [1, "two", None], "text": 'a "b" {c}', "empty": {}},
            timestamp=NOW + timedelta(seconds=n),
        )
        for n in range(3)
    ]

    rows.write([*events, *audits])

    for event in events:
        stored = _stored(NotificationEvent, event.pk)
        expected = {
            field.attname: getattr(event, field.attname) for field in NotificationEvent._meta.concrete_fields
        }
        assert stored == expected
        assert stored["status"] == "pending" and stored["retry_count"] == 0
    for audit in audits:
        stored = _stored(AuditEvent, audit.pk)
        assert stored["details"] == audit.details and stored["timestamp"] == audit.timestamp
    # details=None is SQL NULL, as save() stores it, not the JSON value null
    assert AuditEvent.objects.filter(pk=audits[0].pk, details__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_key_raises_integrity_error_and_writes_nothing_of_the_statement():
    """In autocommit, so that only the statement itself can make it all or nothing."""
    team = Team.objects.create(name="platform", description="before")
    first = NotificationEvent(type="RenewalSuccess", channel="Email", message="one")
    rows.insert(first)
    assert connection.get_autocommit()

    with pytest.raises(IntegrityError):
        rows.write(
            [
                AuditEvent(
                    action="certificate_issued",
                    resource_type="certificate",
                    resource_id="c1",
                    actor="alice",
                    actor_type="User",
                ),
                NotificationEvent(type="RenewalSuccess", channel="Email", message="two"),
                NotificationEvent(id=first.id, type="RenewalSuccess", channel="Email", message="dup"),
            ],
            postgres_updates=[_rename_team(team, "after", "'duplicate'")],
        )

    assert list(NotificationEvent.objects.values_list("message", flat=True)) == ["one"]
    assert not AuditEvent.objects.exists()
    team.refresh_from_db()
    assert team.description == "before"


def test_a_duplicate_key_inside_a_transaction_can_be_rolled_back_to_its_savepoint():
    first = NotificationEvent(type="RenewalSuccess", channel="Email", message="one")
    rows.insert(first)

    with pytest.raises(IntegrityError), transaction.atomic():
        rows.write([NotificationEvent(id=first.id, type="RenewalSuccess", channel="Email", message="dup")])

    # the surrounding transaction goes on
    rows.insert(NotificationEvent(type="RenewalSuccess", channel="Email", message="three"))
    assert sorted(NotificationEvent.objects.values_list("message", flat=True)) == ["one", "three"]


def test_an_empty_write_does_nothing_and_a_row_without_id_is_refused():
    from django.contrib.auth.models import Group

    rows.write([])
    with pytest.raises(ValueError, match="no primary key value"):
        rows.write([Group(name="auto id")])
    with pytest.raises(ValueError, match="no primary key value"):
        rows.insert(Group(name="auto id"))
    assert not Group.objects.filter(name="auto id").exists()


class _Tier(models.TextChoices):
    CRITICAL = "critical"


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        None,
        7,
        True,
        _Tier.CRITICAL,
        NOW,
        datetime(2026, 4, 1, 9, 30),  # naive: Django warns and makes it aware
        {"nested": [1, None, "x"]},
        Decimal("1.5"),
    ],
    ids=repr,
)
def test_the_fast_value_preparation_gives_what_get_db_prep_save_gives(value):
    """`db_value` skips Django's field machinery for the values it returns unchanged; for every field of the
    models written in bulk, and values of every kind, it must give exactly what save() would send."""
    checked = 0
    for model in (ManagedCertificate, CertificateVersion, NotificationEvent, AuditEvent, Job):
        for field in model._meta.concrete_fields:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    expected = field.get_db_prep_save(value, connection)
            except (TypeError, ValueError, ValidationError):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                prepared = db_value(field)(value)
            assert type(prepared) is type(expected), (model.__name__, field.name)
            if isinstance(expected, Jsonb):
                assert prepared.obj == expected.obj, (model.__name__, field.name)
            else:
                assert prepared == expected, (model.__name__, field.name)
            checked += 1
    assert checked >= 5
