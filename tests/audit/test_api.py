"""GET /api/v1/audit (filters, real totals), /audit/{id} by event id, and the streaming export."""

import csv
import io
import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services.chain import seal
from audit.services.record import record

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def trail():
    rows = []
    for i in range(6):
        rows.append(
            record(
                "certificate_revoked" if i % 2 else "certificate_created",
                resource_type="certificate" if i < 4 else "job",
                resource_id=f"res-{i % 3}",
                actor="alice" if i < 3 else "agent-7",
                actor_type="User" if i < 3 else "Agent",
                details={"i": i},
                now=T0 + timedelta(hours=i),
            )
        )
    seal()
    return [AuditEvent.objects.get(pk=row.pk) for row in rows]


def domain(body):
    return [row for row in body["data"] if row["resource_type"] != "api"]


def test_list_is_newest_first_with_the_real_total(client_with_key, trail):
    body = client_with_key.get("/api/v1/audit", {"per_page": 2, "resource_type": "certificate"}).json()
    assert body["total"] == 4
    assert (body["page"], body["per_page"]) == (1, 2)
    assert [row["id"] for row in body["data"]] == [trail[3].id, trail[2].id]
    row = body["data"][0]
    assert row["timestamp"] == "2026-03-01T03:00:00.000000Z"
    assert set(row) == {"id", "seq", "actor", "actor_type", "action", "resource_type", "resource_id", "details",
                        "timestamp", "prev_hash", "row_hash"}  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "alice"}, [2, 1, 0]),
        ({"actor_type": "Agent"}, [5, 4, 3]),
        ({"action": "certificate_revoked"}, [5, 3, 1]),
        ({"resource_type": "job"}, [5, 4]),
        ({"resource_id": "res-1"}, [4, 1]),
        ({"from": "2026-03-01T02:00:00Z", "to": "2026-03-01T04:00:00Z"}, [3, 2]),
        ({"from": "2026-03-01T04:00:00+01:00"}, [5, 4, 3]),
        ({"to": "2026-03-01"}, []),
        ({"actor": "alice", "action": "certificate_created", "resource_type": "certificate"}, [2, 0]),
    ],
)
def test_every_filter_narrows_the_list_and_the_total(client_with_key, trail, params, expected):
    body = client_with_key.get(
        "/api/v1/audit", {**params, "resource_type": params.get("resource_type", "")}
    ).json()
    rows = domain(body)
    assert [row["id"] for row in rows] == [trail[i].id for i in expected]
    assert body["total"] == len(expected) + (len(body["data"]) - len(rows))


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "yesterday"}, "from"), ({"to": "2026-13-45"}, "to"), ({"actor_type": "Robot"}, "actor_type"),
     ({"from": "2026-03-02", "to": "2026-03-01"}, "from"), ({"per_page": "0"}, "per_page")],
)  # fmt: skip
def test_invalid_filters_are_a_400_with_the_envelope(client_with_key, params, field):
    response = client_with_key.get("/api/v1/audit", params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["fields"]


def test_get_by_event_id_and_404_for_an_unknown_or_resource_id(client_with_key, trail):
    response = client_with_key.get(f"/api/v1/audit/{trail[1].id}")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["resource_id"]) == (trail[1].id, "res-1")
    for missing in ("audit-00000000000000000000000000", "res-1"):
        response = client_with_key.get(f"/api/v1/audit/{missing}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_the_api_needs_a_key(api_client, trail):
    assert api_client.get("/api/v1/audit").status_code == 401
    assert api_client.get("/api/v1/audit/export").status_code == 401


def streamed(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def test_jsonl_export_streams_the_filtered_rows_in_chain_order(client_with_key, trail):
    response = client_with_key.get("/api/v1/audit/export", {"format": "jsonl", "actor": "alice"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    lines = [json.loads(line) for line in streamed(response).decode().splitlines()]
    assert [line["id"] for line in lines] == [trail[0].id, trail[1].id, trail[2].id]
    assert lines[1]["details"] == {"i": 1}
    assert lines[1]["timestamp"] == "2026-03-01T01:00:00.000000Z"
    assert lines[1]["prev_hash"] == lines[0]["row_hash"]


def test_csv_export_has_a_header_and_neutralises_formula_cells(client_with_key, trail):
    record("api_key_created", resource_type="api_key", resource_id="=HYPERLINK(1)", actor="+evil", now=T0)
    response = client_with_key.get("/api/v1/audit/export", {"format": "csv", "to": "2026-03-01T01:00:00Z"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(streamed(response).decode())))
    assert [row["id"] for row in rows[:1]] == [trail[0].id]
    assert json.loads(rows[0]["details"]) == {"i": 0}
    assert (rows[1]["actor"], rows[1]["resource_id"]) == ("'+evil", "'=HYPERLINK(1)")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [("/api/v1/audit", {"actor": "a\x00b"}, "actor"),
     ("/api/v1/audit/export", {"format": "csv", "resource_id": "cert-\x00"}, "resource_id")],
)  # fmt: skip
def test_a_nul_in_a_filter_is_a_400_before_anything_streams(client_with_key, path, params, field):
    response = client_with_key.get(path, params)
    assert response.status_code == 400
    assert not response.streaming
    body = response.json()
    assert (body["error"], list(body["fields"])) == ("validation_error", [field])


def test_unknown_export_format_is_a_400(client_with_key):
    response = client_with_key.get("/api/v1/audit/export", {"format": "xml"})
    assert response.status_code == 400
    assert "format" in response.json()["fields"]


def insert_rows(n: int) -> None:
    """n chain-shaped rows in one INSERT ... SELECT (fixture data for the export, not a valid chain)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (id, seq, actor, actor_type, action, resource_type, resource_id,
                                          details, timestamp, prev_hash, row_hash)
            SELECT 'audit-bulk' || g, g, 'ci', 'System', 'certificate_updated', 'certificate', 'cert-' || g,
                   jsonb_build_object('status', 'Active -> Expiring', 'n', g),
                   now() - make_interval(secs => g), repeat('a', 64), repeat('b', 64)
            FROM generate_series(1, %s) AS g
            """,
            [n],
        )


def export_peak(client, expected_rows: int) -> int:
    tracemalloc.start()
    try:
        response = client.get("/api/v1/audit/export", {"format": "jsonl", "resource_type": "certificate"})
        lines = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == expected_rows
    return peak


@pytest.mark.slow
def test_export_of_100000_rows_streams_with_flat_memory(client_with_key):
    if connection.vendor != "postgresql":
        pytest.skip("bulk fixture uses generate_series")
    insert_rows(10_000)
    peak_10k = export_peak(client_with_key, 10_000)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
        cursor.execute("DELETE FROM audit_auditevent")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")
    insert_rows(100_000)
    started = time.perf_counter()
    peak_100k = export_peak(client_with_key, 100_000)
    elapsed = time.perf_counter() - started
    print(
        f"export peak: 10k rows {peak_10k / 1e6:.1f} MB, 100k rows {peak_100k / 1e6:.1f} MB, {elapsed:.1f}s"
    )
    assert peak_100k < 20_000_000
    assert peak_100k < peak_10k * 1.5 + 1_000_000, "memory grows with the number of rows"
