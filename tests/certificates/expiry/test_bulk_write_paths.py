"""The expiry check's bulk writes take shortcuts for speed (issue 21): each must give what the plain path gives.

IDs are encoded with a pair table instead of divmods, audit details skip redaction's copy when nothing can
match, a text column of plain strings skips per-value preparation, and `insert_unnest` binds its arrays on the
server (so `%b` is binary) while staying visible to Django's execute wrappers.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.redaction import redact
from certctl.kernel import bulk_insert, ids
from certificates.expiry.services.audit_rows import AuditEntry, _redacted, write_audit_batch
from notifications.enums import Channel, SeverityTier
from notifications.models import NotificationEvent

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _reference_id(prefix: str, time_ns: int, random_bytes: bytes) -> str:
    millis = time_ns // 1_000_000
    return f"{prefix}-{ids._encode(millis, 10)}{ids._encode(int.from_bytes(random_bytes, 'big'), 16)}"


def test_new_id_encodes_time_and_randomness_as_the_divmod_encoding_does(monkeypatch):
    rng = random.Random(21)
    cases = [(0, b"\0" * 10), ((2**48 - 1) * 1_000_000, b"\xff" * 10)]
    cases += [
        (rng.randrange(2**48) * 1_000_000 + rng.randrange(10**6), rng.randbytes(10)) for _ in range(5000)
    ]
    for time_ns, random_bytes in cases:
        monkeypatch.setattr(ids.time, "time_ns", lambda t=time_ns: t)
        monkeypatch.setattr(ids.os, "urandom", lambda n, b=random_bytes: b[:n])
        assert ids.new_id("audit") == _reference_id("audit", time_ns, random_bytes)


@pytest.mark.parametrize(
    "details",
    [
        None,
        {},
        {
            "threshold_days": 7,
            "days_until_expiry": 5,
            "channel": Channel.EMAIL,
            "severity_tier": SeverityTier.WARNING,
        },
        {"status": "Active -> Expiring", "expiry": "2027-01-01T00:00:00Z", "destination_id": None},
        {"threshold_days": 7, "invalid_channel": "Fax"},
        {"destination": "cctl_abcdefghijklmnopqrstu"},  # an API key as a value
        {"note": "-----BEGIN EC PRIVATE KEY-----"},
        {"webhook_secret": "s3cret", "threshold_days": 1},  # a credential key
        {"nested": {"token": "x"}, "list": [1, {"password": "p"}]},
        {"ratio": 0.5, "ok": True, 3: "numeric key"},
    ],
)
def test_audit_details_are_redacted_as_redact_does(details):
    assert _redacted(details) == redact(details)


@pytest.mark.django_db
def test_a_column_of_plain_values_is_prepared_as_each_value_would_be():
    fields = {field.attname: field for field in NotificationEvent._meta.concrete_fields}
    columns = {
        "id": ["notif-1", "notif-2"],
        "channel": [Channel.EMAIL, "Slack"],  # an enum member is not a plain str: prepared one by one
        "message": ["a", "b"],
        "destination_id": [None, "dest-1"],
        "threshold_days": [7, None],
        "escalation_due_at": [NOW, None],
    }
    for name, values in columns.items():
        prepare = bulk_insert.db_value(fields[name], json_as_text=True)
        assert list(bulk_insert._db_values(fields[name], values)) == [prepare(value) for value in values]


@pytest.mark.django_db
def test_the_bulk_audit_write_stores_what_it_was_given_and_shows_in_captured_queries():
    entries = [
        AuditEntry(
            "expiration_alert_sent", "certificate", "cert-1", {"threshold_days": 7, "channel": "Email"}, NOW
        ),
        AuditEntry(
            "certificate_status_changed", "certificate", "cert-2", {"status": "Active -> Expiring"}, NOW
        ),
        AuditEntry("x", "certificate", "cert-3", {"api_token": "t"}, NOW, actor="alice", actor_type="User"),
    ]
    with CaptureQueriesContext(connection) as captured:
        assert write_audit_batch(entries) == 3
    assert [q["sql"].startswith('INSERT INTO "audit_auditevent"') for q in captured.captured_queries] == [
        True
    ]
    rows = {row.resource_id: row for row in AuditEvent.objects.all()}
    assert rows["cert-1"].details == {"threshold_days": 7, "channel": "Email"}
    assert rows["cert-2"].details == {"status": "Active -> Expiring"}
    assert rows["cert-3"].details == {"api_token": "[REDACTED]", "redacted_keys": ["api_token"]}
    assert {(row.actor, row.actor_type, row.timestamp) for row in rows.values()} == {
        ("system", "System", NOW),
        ("alice", "User", NOW),
    }
    assert all(row.id.startswith("audit-") and len(row.id) == 32 for row in rows.values())
