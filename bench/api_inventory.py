"""Benchmark: the certificate list and the stats summary over a large inventory (PostgreSQL).

Seeds N certificates (default 100,000) with one `INSERT ... SELECT`, then times, in-process through the whole
middleware and DRF stack (median of R runs each):
  - page paging: page 1 and a deep page (offset ~N/2), per_page=50
  - keyset paging: first page and a page deep in the walk (cursor taken at ~N/2), page_size=50
  - a filtered, sorted list (environment + expires_before, sort=expires_at)
  - GET /api/v1/stats/summary, and its number of SQL queries

    scripts/with-services.sh /work/venv/bin/python bench/api_inventory.py     # needs DATABASE_URL (PostgreSQL)

Not a test: prints figures (median = p50 of R runs, in-process, one client) and `figure NAME VALUE UNIT` lines;
never fails on timing.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def fresh_database() -> tuple[str, str]:
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit(
            "bench/api_inventory.py needs DATABASE_URL pointing at PostgreSQL (use scripts/with-services.sh)"
        )
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = f"certctl_bench_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), admin


def drop_database(admin: str, name: str) -> None:
    import psycopg
    from django.db import connections

    from audit.services.writer import writer

    writer.stop()  # write the API calls' audit rows now, while their database still exists
    connections.close_all()
    with psycopg.connect(admin, autocommit=True) as conn:
        # FORCE: the audit writer's and the publisher's threads may still hold a session.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(rows: int) -> None:
    from django.db import connection

    from tests.factories import IssuerFactory, OwnerFactory, RenewalPolicyFactory

    owner, issuer, policy = OwnerFactory(), IssuerFactory(), RenewalPolicyFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO certificates_managedcertificate
              (id, name, common_name, sans, environment, owner_id, team_id, issuer_id, renewal_policy_id,
               status, expires_at, tags, revocation_reason, source, created_at, updated_at)
            SELECT 'cert-bench' || lpad(g::text, 8, '0'), 'bench-' || g, 'svc' || g || '.example.test', '[]'::jsonb,
                   (ARRAY['production', 'staging', 'development'])[1 + g %% 3], %s, %s, %s, %s,
                   (ARRAY['Active', 'Expiring', 'Expired', 'Pending', 'Revoked'])[1 + g %% 5],
                   now() + ((g %% 400) - 30) * interval '1 day', '{}'::jsonb, '', '',
                   now() - g * interval '1 second', now()
            FROM generate_series(1, %s) AS g
            """,
            [owner.id, owner.team_id, issuer.id, policy.id, rows],
        )
        cursor.execute("ANALYZE certificates_managedcertificate")


def timed(client, url: str) -> tuple[float, dict]:
    samples = []
    body: dict = {}
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:200]
        body = response.json()
    return statistics.median(samples), body


def django_on_a_fresh_database() -> tuple[str, str]:
    """Configure certctl for a benchmark on a new, migrated PostgreSQL database; returns (url, admin url).
    Drop it with drop_database(admin, name) when done."""
    os.environ.setdefault("CERTCTL_DEBUG", "true")
    os.environ.setdefault("CERTCTL_DATA_DIR", tempfile.mkdtemp(prefix="certctl-bench-"))
    os.environ["CERTCTL_RATE_LIMIT"] = "100000000/min"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
    url, admin = fresh_database()
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
    except BaseException:
        drop_database(admin, urlsplit(url).path.lstrip("/"))
        raise
    return url, admin


def main() -> None:
    url, admin = django_on_a_fresh_database()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    try:
        started = time.perf_counter()
        seed(ROWS)
        seeded = time.perf_counter() - started
        client = APIClient(HTTP_HOST="localhost")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key('bench')[1]}")

        deep_page = max(1, ROWS // 2 // 50)
        figures = [
            ("page paging, page 1", "/api/v1/certificates?per_page=50"),
            (f"page paging, page {deep_page}", f"/api/v1/certificates?per_page=50&page={deep_page}"),
            ("keyset paging, first page", "/api/v1/certificates?page_size=50"),
        ]
        _, walk = timed(client, f"/api/v1/certificates?page_size={min(500, ROWS // 2)}")
        cursor = walk["next_cursor"]
        for _ in range(max(0, ROWS // 2 // 500 - 1)):
            cursor = client.get(f"/api/v1/certificates?page_size=500&cursor={cursor}").json()["next_cursor"]
        figures.append(("keyset paging, page at ~N/2", f"/api/v1/certificates?page_size=50&cursor={cursor}"))
        figures.append(
            (
                "filter environment + expires_before, sort=expires_at",
                "/api/v1/certificates?environment=staging&expires_before=2100-01-01T00:00:00Z&sort=expires_at",
            )
        )
        figures.append(("stats summary", "/api/v1/stats/summary"))

        print(f"certctl API inventory benchmark: {ROWS:,} certificates, median of {RUNS} runs")
        print(
            f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL"
        )
        print(f"seed (INSERT ... SELECT): {seeded:.2f} s")
        results = {}
        for label, path in figures:
            ms, body = timed(client, path)
            results[label] = ms
            print(f"  {label:<58} {ms:8.1f} ms   total={body.get('total', body.get('total_certificates'))}")
        with CaptureQueriesContext(connection) as queries:
            client.get("/api/v1/stats/summary")
        print(f"  stats summary SQL queries (incl. auth): {len(queries)}")
        deep = results[f"page paging, page {deep_page}"]
        keyset = results["keyset paging, page at ~N/2"]
        print(f"  deep page: keyset is {deep / keyset:.1f}x faster than OFFSET paging")
        print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        size = f"{ROWS // 1_000_000}m" if ROWS % 1_000_000 == 0 else f"{ROWS // 1000}k"
        names = {
            "page paging, page 1": "list_p50_ms",
            f"page paging, page {deep_page}": "offset_deep_p50_ms",
            "keyset paging, first page": "keyset_first_p50_ms",
            "keyset paging, page at ~N/2": "keyset_mid_p50_ms",
            "filter environment + expires_before, sort=expires_at": "filtered_p50_ms",
            "stats summary": "stats_p50_ms",
        }
        for label, name in names.items():
            print(f"figure {name}_{size} {results[label]:.1f} ms")
    finally:
        drop_database(admin, urlsplit(url).path.lstrip("/"))


if __name__ == "__main__":
    main()
