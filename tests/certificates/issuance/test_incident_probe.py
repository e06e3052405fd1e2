"""Issuance asks PostgreSQL whether a renewed certificate has incidents to resolve in the write's own statement
(certificates.issuance.services.recording._incident_probe) and reads them through
notifications.services.incidents only when it has: the probe must find a row exactly when that service's read
does, and an issuance must resolve the incidents it resolved before."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction

from certificates.issuance.services import recording
from certificates.issuance.services.issuance import issue_from_csr
from notifications.enums import Channel, NotificationStatus, NotificationType
from notifications.models import NotificationEvent
from notifications.services import incidents
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _probe(certificate_id: str) -> bool:
    """The probe's answer for the certificate, asked as a one-issuance write asks (its id listed) and as a big
    batch asks (one array of ids); both must agree."""
    others = [f"cert-absent-{n}" for n in range(recording._PROBE_LISTED)]
    answers = set()
    for certificate_ids in ([certificate_id], [certificate_id, *others]):
        sql, params = recording._incident_probe(certificate_ids)
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params)
            answers.add(cursor.fetchone() is not None)
    assert len(answers) == 1
    return answers.pop()


def _service_reads_rows(monkeypatch, certificate_id: str) -> bool:
    """Whether resolve_incidents_many's read found rows (it hands them to _resolve_events only then); whatever
    it writes is rolled back."""
    seen = []
    original = incidents._resolve_events

    def spy(triggers, certificates, reason):
        seen.append(True)
        return original(triggers, certificates, reason)

    monkeypatch.setattr(incidents, "_resolve_events", spy)
    with transaction.atomic():
        incidents.resolve_incidents_many({certificate_id: "probe"}, reason="renewed", now=NOW)
        transaction.set_rollback(True)
    return bool(seen)


def test_the_probe_finds_a_row_exactly_when_the_incident_service_reads_one(monkeypatch):
    certificate = issuable_certificate(make_root(), name="probe")
    connection.ensure_connection()
    kinds = (
        NotificationType.EXPIRATION_WARNING,
        NotificationType.INCIDENT_RESOLVED,
        NotificationType.RENEWAL_SUCCESS,
    )
    channels = (Channel.PAGERDUTY, Channel.OPSGENIE, Channel.EMAIL)
    cases = itertools.product(kinds, channels, NotificationStatus.values, ("", "certctl-key"), (None, NOW))
    checked = found = 0
    for kind, channel, status, key, escalation in cases:
        row = NotificationEvent.objects.create(
            type=kind,
            channel=channel,
            status=status,
            certificate=certificate,
            incident_key=key,
            escalation_due_at=escalation,
            message="m",
        )
        expected = _service_reads_rows(monkeypatch, certificate.pk)
        assert _probe(certificate.pk) == expected, (kind, channel, status, key, escalation)
        checked += 1
        found += expected
        row.delete()
    assert not _probe(certificate.pk) and not _service_reads_rows(monkeypatch, certificate.pk)
    assert checked == 216 and 0 < found < checked  # both answers occur


def test_the_probe_of_a_single_issuance_reads_the_index_not_the_whole_table():
    """It is prepared once and its plan reused: with the id as an array of unknown length that cached plan
    scanned every notification, and issuance slowed down as the table grew."""
    certificate = issuable_certificate(make_root(), name="probe")
    sql, params = recording._incident_probe([certificate.pk])
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        types = ", ".join("varchar[]" if isinstance(value, list) else "varchar" for value in params)
        numbered = sql.replace("%s", "$%s") % tuple(range(1, len(params) + 1))
        cursor.execute(f"PREPARE probe ({types}) AS {numbered}")
    with psycopg.ClientCursor(connection.connection) as cursor:  # EXECUTE takes values, not parameters
        cursor.execute(f"EXPLAIN EXECUTE probe({', '.join(['%s'] * len(params))})", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE probe")
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_a_renewal_with_an_open_incident_still_resolves_it_and_one_without_writes_no_resolve():
    root = make_root()
    quiet, paged = issuable_certificate(root, name="quiet"), issuable_certificate(root, name="paged")
    trigger = NotificationEvent.objects.create(
        type=NotificationType.EXPIRATION_WARNING,
        channel=Channel.PAGERDUTY,
        status=NotificationStatus.SENT,
        certificate=paged,
        incident_key=incidents.incident_key(paged.pk, NOW + timedelta(days=5)),
        recipient="routing",
        message="expiring",
    )

    for cert in (quiet, paged):
        issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")

    resolved = NotificationEvent.objects.filter(type=NotificationType.INCIDENT_RESOLVED)
    assert list(resolved.values_list("certificate_id", "channel")) == [(paged.pk, Channel.PAGERDUTY)]
    assert resolved.get().dedup_key.startswith(f"resolve:{trigger.incident_key}:")
