"""The inventory at scale: certificate list, keyset page deep in the walk, filtered list and stats summary over
1,000,000 certificates, through the whole HTTP stack (gunicorn as the Procfile runs it, on loopback).

Seeds a fresh PostgreSQL database with one `INSERT ... SELECT` (10 teams, 3 environments, realistic statuses,
expiry spread over 420 days, 1 in 50 certificates deployed to a target), starts gunicorn (production settings,
2 workers) and times each request with http.client from 1 thread (round-robin over the requests) and from 8
threads; prints p50/p99, the server's peak RSS, the answers' checks against row counts, and references measured in
the same run: the stack's floor (GET /api/v1/auth/check) and the SQL main ran for the same answers (a full count per
list page, the keyset `OR` condition, the stats aggregate), straight over psycopg. `--explain` adds each request's
SQL with PostgreSQL's execution time.

    scripts/with-services.sh .venv/bin/python bench/scale.py              # 1,000,000 rows (seeding takes 40-120 s)
    scripts/with-services.sh .venv/bin/python bench/scale.py --rows 100000

Not a test: prints figures, never fails on timing (it does fail when an answer's numbers are wrong).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from bench.http_load import free_port, load_average, production_like_environment, start_gunicorn  # noqa: E402

production_like_environment("certctl-scale-bench-")

from bench.api_inventory import django_on_a_fresh_database, drop_database  # noqa: E402

TABLE = "certificates_managedcertificate"
SEED = f"""
INSERT INTO {TABLE}
  (id, name, common_name, sans, environment, owner_id, team_id, issuer_id, renewal_policy_id, status, expires_at,
   tags, revocation_reason, source, created_at, updated_at, ari_explanation_url)
SELECT 'cert-s' || lpad(g::text, 9, '0'), 'scale-' || g, 'svc' || g || '.example.test', '[]'::jsonb,
       (ARRAY['production', 'staging', 'development'])[1 + g %% 3],
       (%(owners)s::text[])[1 + g %% 10], (%(teams)s::text[])[1 + g %% 10], %(issuer)s, %(policy)s,
       CASE WHEN g %% 100 < 80 THEN 'Active' WHEN g %% 100 < 85 THEN 'Expiring' WHEN g %% 100 < 90 THEN 'Expired'
            WHEN g %% 100 < 94 THEN 'Pending' WHEN g %% 100 < 97 THEN 'Revoked' ELSE 'Archived' END,
       CASE WHEN g %% 100 BETWEEN 90 AND 93 THEN NULL
            ELSE now() + ((g::bigint * 7919) %% 420 - 30) * interval '1 day' + (g %% 86400) * interval '1 second' END,
       '{{}}'::jsonb, '', 'api', now() - g * interval '1 second', now(), ''
FROM generate_series(1, %(rows)s) AS g
"""  # noqa: S608 - the table name is a constant


def seed(rows: int) -> float:
    from django.db import connection

    from tests.factories import IssuerFactory, OwnerFactory, RenewalPolicyFactory, TargetFactory

    owners = [OwnerFactory() for _ in range(10)]
    issuer, policy, target = IssuerFactory(), RenewalPolicyFactory(), TargetFactory()
    started = time.perf_counter()
    params = {
        "owners": [o.id for o in owners],
        "teams": [o.team_id for o in owners],
        "issuer": issuer.id,
        "policy": policy.id,
        "rows": rows,
    }
    with connection.cursor() as cursor:
        cursor.execute(SEED, params)
        cursor.execute(
            f"INSERT INTO {TABLE}_targets (managedcertificate_id, deploymenttarget_id) "  # noqa: S608
            f"SELECT id, %s FROM {TABLE} WHERE right(id, 2) = '50'",
            [target.id],
        )
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
        cursor.execute(f"VACUUM ANALYZE {TABLE}_targets")
        cursor.execute("CHECKPOINT")  # the seed's writes reach disk now, not during the measurements
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    """The largest peak resident set (VmHWM) among gunicorn's master and workers."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    peak = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


class Client:
    """One HTTP/1.1 connection; gunicorn's sync workers close it after each answer, so it reconnects then."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.headers = port, {"Authorization": f"Bearer {key}", "Host": "localhost"}
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[float, dict]:
        started = time.perf_counter()
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.getheader("Connection", "").lower() == "close" or response.will_close:
            self.conn.close()
            self.conn = None
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed, json.loads(body)


def measure(port: int, key: str, path: str, concurrency: int, requests: int) -> list[float]:
    """Latencies (ms) of `requests` GETs from each of `concurrency` threads, after a warm-up."""
    samples: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        client = Client(port, key)
        for _ in range(5):
            client.get(path)
        mine = [client.get(path)[0] for _ in range(requests)]
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sql_ms(sql: str, params: list, runs: int = 5) -> float:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def cursor_at(offset: int) -> tuple[str, datetime, str]:
    from certctl.api.pagination import encode_cursor
    from certificates.inventory.models import ManagedCertificate

    row = ManagedCertificate.objects.order_by("-created_at", "-id").values_list("created_at", "id")[offset]
    return encode_cursor(*row), *row


def expected_numbers(now: datetime, before: datetime) -> dict:
    """The answers' numbers from the rows, as main computed them (the references' row counts)."""
    from django.db.models import Count, Q

    from certificates.enums import CertificateStatus
    from certificates.inventory.models import ManagedCertificate
    from certificates.inventory.querysets import expiry_buckets

    buckets = expiry_buckets(now)
    return ManagedCertificate.objects.aggregate(
        all=Count("pk"),
        live=Count("pk", filter=buckets["live"]),
        expiring=Count("pk", filter=buckets["expiring"]),
        expiring_7d=Count("pk", filter=expiry_buckets(now, 7)["expiring"]),
        expired=Count("pk", filter=buckets["expired"]),
        revoked=Count("pk", filter=buckets["revoked"]),
        filtered=Count("pk", filter=Q(environment="staging", expires_at__lt=before)),
        **{f"s_{v}": Count("pk", filter=Q(status=v)) for v in CertificateStatus.values},
    )


def explain(paths: dict, key: str) -> None:
    """Each request's SQL (captured in-process) with PostgreSQL's own execution time, EXPLAIN ANALYZE."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    print("\n  the SQL of each request, PostgreSQL execution time (EXPLAIN ANALYZE), first plan line")
    for name, path in paths.items():
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                plan = cursor.fetchone()[0]
            plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
            top = plan["Plan"]
            label = f"{top['Node Type']} {top.get('Index Name', top.get('Relation Name', ''))}".strip()
            print(f"  {name:<14}{plan['Execution Time']:8.2f} ms  {label[:40]:<40} {sql[:70]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (Procfile: 2)")
    parser.add_argument("--requests", type=int, default=200, help="requests per figure at concurrency 1")
    parser.add_argument("--explain", action="store_true", help="also print each request's SQL timings")
    args = parser.parse_args()

    url, admin = django_on_a_fresh_database()
    os.environ["CERTCTL_DEBUG"] = "false"
    gunicorn = None
    try:
        from tests.factories import make_api_key

        seeded = seed(args.rows)
        key = make_api_key("scale-bench", is_admin=True)[1]
        now = datetime.now(UTC)
        before = (now + timedelta(days=90)).replace(microsecond=0)
        started = time.perf_counter()
        expected = expected_numbers(now, before)
        main_stats_ms = (time.perf_counter() - started) * 1000
        depths = {"first": None, "10%": args.rows // 10, "50%": args.rows // 2, "90%": args.rows * 9 // 10}
        cursors = {name: cursor_at(offset) if offset else None for name, offset in depths.items()}
        filtered = (
            f"environment=staging&expires_before={quote(before.isoformat())}&sort=expires_at&per_page=50"
        )
        paths = {
            "floor": "/api/v1/auth/check",
            "list": "/api/v1/certificates?per_page=50",
            **{
                f"keyset_{name}": "/api/v1/certificates?page_size=50" + (f"&cursor={c[0]}" if c else "")
                for name, c in cursors.items()
            },
            "filtered": f"/api/v1/certificates?{filtered}",
            "stats": "/api/v1/stats/summary",
        }

        port = free_port()
        gunicorn = start_gunicorn(port, args.workers)
        client = Client(port, key)
        checks = _check_answers(client, paths, expected)

        print(f"certctl at scale: {args.rows:,} certificates, through gunicorn ({args.workers} sync workers)")
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()} {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, PostgreSQL; load average before: {load_average()}"
        )
        print(f"seed (INSERT ... SELECT + counters by trigger + VACUUM ANALYZE): {seeded:.1f} s")
        print(f"answers checked against row counts: {', '.join(checks)}")
        for path in paths.values():  # warm both workers' caches and connections on every path first
            measure(port, key, path, args.workers, 10)
        results: dict[str, dict[str, float]] = {}
        print(
            "\n  floor: GET /api/v1/auth/check, the same stack (middleware, key lookup, throttle) and no inventory"
        )
        print(f"\n  {'request':<16}{'c1 p50':>9}{'c1 p99':>9}{'c8 p50':>9}{'c8 p99':>9}  ms")
        # Concurrency 1 round-robin over the paths, so a change in the machine's load touches every figure alike.
        c1_samples: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.requests):
            for name, path in paths.items():
                c1_samples[name].append(client.get(path)[0])
        for name, path in paths.items():
            c1 = c1_samples[name]
            c8 = measure(port, key, path, 8, max(20, args.requests // 4))
            results[name] = {"c1_p50": pct(c1, 0.5), "c1_p99": pct(c1, 0.99)}
            results[name] |= {"c8_p50": pct(c8, 0.5), "c8_p99": pct(c8, 0.99)}
            r = results[name]
            print(f"  {name:<16}{r['c1_p50']:9.2f}{r['c1_p99']:9.2f}{r['c8_p50']:9.2f}{r['c8_p99']:9.2f}")
        rss = peak_rss_mb(gunicorn.pid)
        print(
            f"  server peak RSS (largest gunicorn process): {rss:.0f} MB; load average after: {load_average()}"
        )

        print(
            "\n  reference, same database: the SQL main ran for these answers (psycopg, median of 5, no HTTP)"
        )
        _, mid_at, mid_id = cursors["50%"]
        refs = {
            "full count (main: every list page's total)": sql_ms(f"SELECT count(*) FROM {TABLE}", []),  # noqa: S608
            "keyset page at 50% (main: OR condition)": sql_ms(
                f"SELECT id FROM {TABLE} WHERE created_at < %s OR (created_at = %s AND id < %s) "  # noqa: S608
                "ORDER BY created_at DESC, id DESC LIMIT 51",
                [mid_at, mid_at, mid_id],
            ),
            "filtered count (main: its total)": sql_ms(
                f"SELECT count(*) FROM {TABLE} WHERE environment = 'staging' AND expires_at < %s",  # noqa: S608
                [before],
            ),
            "stats aggregate (main: one pass, in-process ORM)": main_stats_ms,
        }
        for label, ms in refs.items():
            print(f"  {label:<52}{ms:9.1f} ms")

        if args.explain:
            explain(paths, key)
        print()
        names = dict(floor="http_floor", list="list", filtered="filtered", stats="stats")
        names["keyset_50%"] = "keyset_mid"
        suffix = "1m" if args.rows == 1_000_000 else f"{args.rows // 1000}k"
        for key_name, figure in names.items():
            r = results[key_name]
            print(f"figure {figure}_p50_ms_{suffix} {r['c1_p50']:.2f} ms")
            print(f"figure {figure}_p99_ms_{suffix} {r['c1_p99']:.2f} ms")
            print(f"figure {figure}_c8_p50_ms_{suffix} {r['c8_p50']:.2f} ms")
            print(f"figure {figure}_c8_p99_ms_{suffix} {r['c8_p99']:.2f} ms")
        deep_ratio = results["keyset_90%"]["c1_p50"] / results["keyset_first"]["c1_p50"]
        print(f"figure keyset_90pct_over_first_ratio_{suffix} {deep_ratio:.2f} x")
        print(f"figure scale_server_peak_rss_mb_{suffix} {rss:.0f} MB")
        print(f"figure main_full_count_ms_{suffix} {next(iter(refs.values())):.1f} ms")
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        drop_database(admin, urlsplit(url).path.lstrip("/"))


def _check_answers(client: Client, paths: dict, expected: dict) -> list[str]:
    """Every total and stats number must equal the row counts; a wrong one stops the benchmark."""
    from certificates.enums import CertificateStatus

    def must(label: str, got, want) -> str:
        if got != want:
            raise SystemExit(f"WRONG {label}: answered {got}, the rows say {want}")
        return f"{label}={got:,}" if isinstance(got, int) else f"{label} ok"

    stats = client.get(paths["stats"])[1]
    checks = [
        must("list total", client.get(paths["list"])[1]["total"], expected["all"]),
        must("keyset total", client.get(paths["keyset_50%"])[1]["total"], expected["all"]),
        must("filtered total", client.get(paths["filtered"])[1]["total"], expected["filtered"]),
        must("stats live", stats["total_certificates"], expected["live"]),
        must("expired", stats["expired_certificates"], expected["expired"]),
        must("expiring", stats["expiring_certificates"], expected["expiring"]),
        must("expiring 7d", stats["expiring_within_7_days"], expected["expiring_7d"]),
        must("revoked", stats["revoked_certificates"], expected["revoked"]),
    ]
    by_status = {v: expected[f"s_{v}"] for v in CertificateStatus.values}
    checks.append(must("by status", stats["certificates_by_status"], by_status))
    return checks


if __name__ == "__main__":
    main()
