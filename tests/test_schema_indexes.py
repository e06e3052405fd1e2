"""The hot tables carry no `varchar_pattern_ops` indexes (migration certificates.0005 dropped them)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_no_pattern_ops_index_is_left_on_certctl_tables():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
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
        # Lookups by id still use an index: the primary key (a tiny test table would be scanned otherwise).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT 1 FROM certificates_managedcertificate WHERE id = 'cert-x'")
        plan = " ".join(row[0] for row in cursor.fetchall())
        assert "certificates_managedcertificate_pkey" in plan
