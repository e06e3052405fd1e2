"""The certificate counters the database keeps (migration 0040) stay equal to row counts on every write path, and the
list's `total` and the stats read from them say what counting the rows says."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Count, Q
from rest_framework import serializers

from certificates.enums import CertificateStatus
from certificates.inventory import counts
from certificates.inventory.api.serializers import CertificateSerializer
from certificates.inventory.models import ManagedCertificate
from certificates.inventory.querysets import expiry_buckets
from certificates.inventory.services import certificates as inventory
from tests.factories import CertificateFactory, OwnerFactory, TargetFactory, TeamFactory, make_api_key

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
S = CertificateStatus


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def rows_by_status(**filters) -> dict[str, int]:
    found = dict(ManagedCertificate.objects.filter(**filters).values_list("status").annotate(n=Count("pk")))
    return {status: found.get(status, 0) for status in CertificateStatus.values}


def assert_counters_match_rows() -> None:
    assert counts.by_status() == rows_by_status()
    for team_id, environment in ManagedCertificate.objects.values_list("team_id", "environment").distinct():
        assert counts.by_status(team_id=team_id) == rows_by_status(team_id=team_id)
        assert counts.by_status(environment=environment) == rows_by_status(environment=environment)
    for offset in (-400, -3, 0, 1, 29, 31, 365):
        moment = NOW + timedelta(days=offset, hours=offset % 7)
        assert (
            counts.total(expires_before=moment)
            == ManagedCertificate.objects.filter(expires_at__lt=moment).count()
        )
        assert (
            counts.total(expires_after=moment)
            == ManagedCertificate.objects.filter(expires_at__gt=moment).count()
        )


def inventory_mix() -> list[ManagedCertificate]:
    """Certificates on the partial days around NOW and the bucket edges, in several teams and environments."""
    teams = [OwnerFactory(team=TeamFactory()) for _ in range(2)]
    moments = [
        NOW - timedelta(days=40),
        NOW - timedelta(hours=1),  # expired earlier today
        NOW,  # expires this instant: expired (expires_at <= now)
        NOW + timedelta(hours=1),  # later today
        NOW + timedelta(days=7),  # the 7-day edge, inclusive
        NOW + timedelta(days=7, seconds=1),
        NOW + timedelta(days=30),  # the 30-day edge, inclusive
        NOW + timedelta(days=30, seconds=1),
        NOW + timedelta(days=200),
        None,
    ]
    statuses = [S.ACTIVE, S.EXPIRING, S.EXPIRED, S.REVOKED, S.ARCHIVED, S.PENDING]
    made = []
    for i, moment in enumerate(moments * 2):
        owner = teams[i % 2]
        made.append(
            CertificateFactory(
                owner=owner,
                environment=("production", "staging", "")[i % 3],
                status=statuses[i % len(statuses)],
                expires_at=moment,
            )
        )
    return made


def test_counters_follow_create_update_archive_delete_and_bulk_paths(frozen):
    made = inventory_mix()
    assert_counters_match_rows()

    other_owner = OwnerFactory()
    inventory.update_certificate(made[0], {"status": S.ACTIVE, "environment": "staging"})
    inventory.update_certificate(made[1], {"expires_at": NOW + timedelta(days=3)})
    inventory.archive_certificate(made[2])
    inventory.reassign_certificates([c.id for c in made[3:9]], other_owner, team=other_owner.team)
    assert_counters_match_rows()

    ManagedCertificate.objects.filter(status=S.ACTIVE).update(status=S.EXPIRED)  # a bulk sweep
    ManagedCertificate.objects.filter(environment="").update(expires_at=NOW + timedelta(days=1))
    ManagedCertificate.objects.filter(pk=made[10].pk).update(
        common_name="x.example.test"
    )  # no counted column
    made[11].delete()
    ManagedCertificate.objects.bulk_create(
        [
            ManagedCertificate(
                name=f"bulk-{i}",
                common_name="bulk.example.test",
                owner=other_owner,
                team=other_owner.team,
                issuer=made[0].issuer,
                renewal_policy=made[0].renewal_policy,
                status=S.ACTIVE,
                expires_at=NOW + timedelta(days=i),
            )
            for i in range(5)
        ]
    )
    assert_counters_match_rows()


def test_a_rolled_back_change_leaves_the_counters_as_they_were(frozen):
    made = inventory_mix()
    before = counts.by_status()
    with pytest.raises(RuntimeError), transaction.atomic():
        ManagedCertificate.objects.filter(pk__in=[c.pk for c in made]).update(status=S.ARCHIVED)
        raise RuntimeError
    assert counts.by_status() == before


def test_truncate_empties_the_counters(frozen):
    inventory_mix()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses while deferred checks are pending
        cursor.execute(f"TRUNCATE {ManagedCertificate._meta.db_table} CASCADE")
    assert sum(counts.by_status().values()) == 0
    assert counts.total(expires_after=NOW - timedelta(days=999)) == 0


def test_stats_summary_equals_the_row_counts_at_the_bucket_edges(frozen, client_with_key):
    inventory_mix()
    buckets = expiry_buckets(NOW)
    expected = ManagedCertificate.objects.aggregate(
        live=Count("pk", filter=buckets["live"]),
        expiring=Count("pk", filter=buckets["expiring"]),
        expiring_7d=Count("pk", filter=expiry_buckets(NOW, 7)["expiring"]),
        expired=Count("pk", filter=buckets["expired"]),
        revoked=Count("pk", filter=buckets["revoked"]),
    )
    body = client_with_key.get("/api/v1/stats/summary").json()
    assert body["total_certificates"] == expected["live"]
    assert body["expiring_certificates"] == expected["expiring"]
    assert body["expiring_within_7_days"] == expected["expiring_7d"]
    assert body["expired_certificates"] == expected["expired"]
    assert body["revoked_certificates"] == expected["revoked"]
    assert body["certificates_by_status"] == rows_by_status()


def test_certificates_by_status_equals_the_row_counts(frozen, client_with_key):
    inventory_mix()
    active = Q(status=S.ACTIVE)
    expected = rows_by_status()
    moved_expired = ManagedCertificate.objects.filter(active, expires_at__lte=NOW).count()
    moved_expiring = ManagedCertificate.objects.filter(
        active, expires_at__gt=NOW, expires_at__lte=NOW + timedelta(days=30)
    ).count()
    expected[S.ACTIVE] -= moved_expired + moved_expiring
    expected[S.EXPIRED] += moved_expired
    expected[S.EXPIRING] += moved_expiring
    body = client_with_key.get("/api/v1/stats/certificates-by-status").json()
    assert {row["status"]: row["count"] for row in body} == {k: v for k, v in expected.items() if v}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=Active",
        "environment=staging",
        "environment=staging&status=Expired",
        "expires_before=2026-03-10T18:00:00Z",
        "expires_after=2026-03-10T15:30:00Z&expires_before=2026-04-09T15:30:00Z",
        "environment=production&expires_before=2026-06-01T00:00:00Z&sort=expires_at",
        "expires_after=2026-03-10T10:00:00Z&expires_before=2026-03-10T16:00:00Z",
        "expires_after=2026-05-01T00:00:00Z&expires_before=2026-04-01T00:00:00Z",
        "created_after=2020-01-01T00:00:00Z",  # not kept by the counters: rows are counted
    ],
)
def test_list_total_equals_the_row_count_for_every_filter(frozen, client_with_key, query):
    made = inventory_mix()
    team_id = made[0].team_id
    variants = [query, f"{query}&team_id={team_id}"]
    if "sort" not in query:  # cursor paging has its own order
        variants.append(f"{query}&page_size=5")
    for q in variants:
        body = client_with_key.get(f"/api/v1/certificates?{q}").json()
        rows = client_with_key.get(f"/api/v1/certificates?{q}&per_page=500").json()
        if "page_size" in q:
            assert (
                body["total"]
                == client_with_key.get(f"/api/v1/certificates?{query}&per_page=500").json()["total"]
            )
        else:
            assert body["total"] == len(rows["data"])


def test_a_team_bound_key_gets_its_teams_total(frozen, api_client):
    made = inventory_mix()
    raw = make_api_key("team-reader", scopes=["read"], teams=[made[0].team])[1]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    mine = ManagedCertificate.objects.filter(team=made[0].team)
    assert api_client.get("/api/v1/certificates").json()["total"] == mine.count()
    assert (
        api_client.get("/api/v1/certificates?status=Active").json()["total"]
        == mine.filter(status="Active").count()
    )
    before = NOW + timedelta(days=31)
    body = api_client.get("/api/v1/certificates", {"expires_before": before.isoformat()}).json()
    assert body["total"] == mine.filter(expires_at__lt=before).count()


def test_keyset_walk_deep_pages_return_every_row_once(frozen, client_with_key):
    made = inventory_mix()
    seen, cursor = [], ""
    while True:
        body = client_with_key.get(f"/api/v1/certificates?page_size=3{cursor}").json()
        seen += [row["id"] for row in body["data"]]
        assert body["total"] == len(made)
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    expected = ManagedCertificate.objects.order_by("-created_at", "-id").values_list("id", flat=True)
    assert seen == list(expected)


def test_list_rows_read_as_drf_would_serialize_them(frozen, client_with_key):
    made = inventory_mix()
    made[0].targets.set([TargetFactory(name="b"), TargetFactory(name="a")])
    made[1].tags, made[1].sans = {"k": "v"}, ["a.example.test"]
    made[1].save()
    page = client_with_key.get("/api/v1/certificates?per_page=500").json()["data"]
    by_id = {row["id"]: row for row in page}
    for certificate in ManagedCertificate.objects.all():
        drf = serializers.ModelSerializer.to_representation(CertificateSerializer(), certificate)
        assert by_id[certificate.id] == drf
    assert by_id[made[0].id]["target_ids"] == list(
        made[0].targets.order_by("name").values_list("id", flat=True)
    )


def test_sqlite_triggers_keep_the_same_counters():
    """`make run` uses SQLite: its row triggers (migration 0040) keep the same tables."""
    from importlib import import_module

    migration = import_module("certificates.inventory.counter_triggers")
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE certificates_managedcertificate (id text PRIMARY KEY, team_id text, environment text, "
        "status text, expires_at datetime, common_name text)"
    )
    db.execute("INSERT INTO certificates_managedcertificate VALUES ('c0', 't1', '', 'Active', NULL, 'x')")
    for statement in migration._sqlite_statements():
        db.execute(statement)
    rows = [
        ("c1", "t1", "prod", "Active", "2026-03-10 15:30:00"),
        ("c2", "t1", "prod", "Active", "2026-03-11 01:00:00"),
        ("c3", "t2", "", "Revoked", None),
    ]
    db.executemany("INSERT INTO certificates_managedcertificate VALUES (?, ?, ?, ?, ?, 'x')", rows)
    db.execute("UPDATE certificates_managedcertificate SET status = 'Expired' WHERE id = 'c1'")
    db.execute("UPDATE certificates_managedcertificate SET common_name = 'y'")
    db.execute(
        "UPDATE certificates_managedcertificate SET expires_at = '2026-03-12 00:00:00' WHERE id = 'c2'"
    )
    db.execute("DELETE FROM certificates_managedcertificate WHERE id = 'c3'")

    by_team = set(
        db.execute("SELECT team_id, environment, status, n FROM certificates_count_by_team WHERE n <> 0")
    )
    assert by_team == {("t1", "", "Active", 1), ("t1", "prod", "Expired", 1), ("t1", "prod", "Active", 1)}
    by_expiry = set(
        db.execute(
            "SELECT environment, status, expires_day, n FROM certificates_count_by_expiry WHERE n <> 0"
        )
    )
    assert by_expiry == {
        ("", "Active", "0001-01-01", 1),
        ("prod", "Expired", "2026-03-10", 1),
        ("prod", "Active", "2026-03-12", 1),
    }


def test_the_sqlite_path_reads_the_same_target_ids_as_the_page_query(frozen):
    from certificates.inventory.api.views import _read_target_ids

    made = inventory_mix()
    made[0].targets.set([TargetFactory(name="b"), TargetFactory(name="a")])
    made[3].targets.set([TargetFactory(name="c")])
    page = list(ManagedCertificate.objects.order_by("pk"))
    _read_target_ids(page)
    for certificate in page:
        expected = list(certificate.targets.order_by("name", "id").values_list("id", flat=True))
        assert certificate.target_ids_on_page == expected
