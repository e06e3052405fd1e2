"""How the hot tables are stored: no `varchar_pattern_ops` indexes (certificates.0005), no single-column index a
composite covers (0006), version chains inline (0007)."""

from __future__ import annotations

import pytest
from django.db import connection

from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.services.issuance import issue_from_csr
from tests.issuance_helpers import issuable_certificate, make_csr, make_intermediate, make_root, names_of

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL storage: indexes, TOAST"),
]


ROWS = 5_000


def copy_rows(model, template_id: str, overrides: dict[str, str]) -> None:
    """ROWS copies of one row in one INSERT … SELECT; `overrides` gives SQL (over g = 1…ROWS) for some columns."""
    columns = [field.column for field in model._meta.concrete_fields]
    chosen = [overrides.get(column, connection.ops.quote_name(column)) for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(map(connection.ops.quote_name, columns))}) "  # noqa: S608
            f"SELECT {', '.join(chosen)} FROM {model._meta.db_table}, generate_series(1, %s) AS g WHERE id = %s",
            [ROWS, template_id],
        )


@pytest.fixture
def populated():
    """A certificate table the size a planner takes seriously: on a table of a few rows, the costs of a full scan
    of another index and of a lookup in the right one tie, and the choice between them is PostgreSQL's coin toss
    (CI once saw an id lookup answered from cert_keyset). ANALYZE gives the planner the real statistics."""
    cert = issuable_certificate(make_intermediate(make_root()))
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    copy_rows(
        ManagedCertificate,
        cert.pk,
        {"id": "'cert-fill-' || g", "name": "'fill-' || g", "created_at": "now() - g * interval '1 second'"},
    )
    copy_rows(
        CertificateVersion,
        version.pk,
        {
            "id": "'certver-fill-' || g",
            "certificate_id": "'cert-fill-' || g",
            "fingerprint_sha256": "lpad(to_hex(g), 64, '0')",
            "created_at": "now() - g * interval '1 second'",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ManagedCertificate._meta.db_table}, {CertificateVersion._meta.db_table}")


def plan_of(query: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {query}")
        return " ".join(row[0] for row in cursor.fetchall())


def test_no_pattern_ops_index_is_left_on_certctl_tables(populated):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexdef LIKE '%%_pattern_ops%%'"
        )
        found = cursor.fetchall()
    ours = [row for row in found if row[0].startswith(("certificates_", "notifications_", "audit_"))]
    assert ours == [], f"a migration re-created pattern-ops indexes: {ours}; drop them as 0005 does"
    # The check can fail: Django's own tables still have theirs (auth_user.username).
    assert any(table == "auth_user" for table, _ in found)
    # Lookups by id still use the primary key's index.
    plan = plan_of("SELECT name FROM certificates_managedcertificate WHERE id = 'cert-fill-17'")
    assert "certificates_managedcertificate_pkey" in plan, plan


def test_indexes_covered_by_a_composite_are_gone_and_the_composite_serves_their_queries(populated):
    """Every index of the certificate table gets an entry on each issuance; single-column indexes whose column
    leads a composite index were dropped (certificates.0006), and the composite answers what they answered."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename IN "
            "('certificates_managedcertificate', 'certificates_certificateversion')"
        )
        definitions = {(table, indexdef.split(" USING btree ")[1]) for table, indexdef in cursor.fetchall()}
    assert ("certificates_managedcertificate", "(created_at)") not in definitions
    assert ("certificates_certificateversion", "(certificate_id)") not in definitions
    assert ("certificates_managedcertificate", "(created_at DESC, id DESC)") in definitions
    assert ("certificates_certificateversion", "(certificate_id, created_at DESC)") in definitions

    for query, index in (
        ("SELECT id FROM certificates_managedcertificate ORDER BY created_at, id LIMIT 5", "cert_keyset"),
        (
            "SELECT id FROM certificates_managedcertificate WHERE created_at > now() - interval '30 seconds'",
            "cert_keyset",
        ),
        (
            "SELECT id FROM certificates_certificateversion WHERE certificate_id = 'cert-fill-17'",
            "certver_latest",
        ),
    ):
        plan = plan_of(query)
        assert index in plan, (query, plan)


def test_a_version_chain_is_stored_in_its_row_not_in_the_toast_table():
    """certificates.0007: issuing writes no TOAST rows for an ordinary chain (~2.2 KB)."""
    cert = issuable_certificate(make_intermediate(make_root()))
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    assert len(version.pem_chain) > 2032  # over PostgreSQL's default toast threshold
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid "
            "WHERE c.relname = 'certificates_certificateversion'"
        )
        (toast,) = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM pg_toast.{toast}")  # noqa: S608 - a catalog name
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT pg_column_size(pem_chain) FROM certificates_certificateversion WHERE id = %s",
            [version.pk],
        )
        assert cursor.fetchone()[0] >= len(version.pem_chain)  # inline and uncompressed
