"""Benchmark of the expiry check: 100,000 certificates on PostgreSQL, a cold run and a fully deduplicated run.

    scripts/with-services.sh /work/venv/bin/python bench/expiry_check.py [--sizes 10000 100000] [--spread-days 400]

For each size it creates a fresh database, bulk-inserts the certificates (expiries spread over the next 400 days,
10 renewal policies with different thresholds and channel matrices) in one child process, then times two checks in
another child process (so peak RSS is the check's, not the seeding's). It prints certificates/s, the statements
issued (the same at every size: no N+1) and peak RSS. Targets: cold < 10 s, deduplicated < 5 s, RSS < 300 MB.
A benchmark, not a test: it never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
FANOUT = {
    "informational": ["Slack"],
    "warning": ["Slack", "Email"],
    "critical": ["PagerDuty", "OpsGenie", "Email"],
}
POLICIES = [
    ([30, 14, 7, 0], {}, {}),
    ([30, 14, 7, 0], {}, FANOUT),
    ([60, 30, 14, 7, 1, 0], {"60": "informational", "1": "critical"}, FANOUT),
    (
        [45, 15, 5, 0],
        {},
        {"informational": ["Teams"], "warning": ["Teams"], "critical": ["Teams", "OpsGenie"]},
    ),
    ([90, 60, 30, 14, 7, 3, 1, 0], {"3": "critical", "1": "critical"}, {}),
    ([21, 7, 0], {}, {"critical": ["PagerDuty"]}),
    ([30, 7], {}, {"informational": ["Webhook"], "warning": ["Webhook"], "critical": ["Webhook"]}),
    ([14, 3, 0], {"3": "critical"}, {"warning": ["Email"], "critical": ["Email", "PagerDuty"]}),
    ([30, 14, 7, 0], {"30": "warning"}, {"warning": ["Slack"], "critical": ["Slack", "Email"]}),
    ([120, 30, 0], {}, {"informational": ["Email", "Slack"], "warning": ["Email"], "critical": ["Email"]}),
]


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
    import django

    django.setup()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(size: int, spread_days: int) -> dict:
    """Migrate the fresh database and bulk-insert `size` certificates."""
    _setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from certificates import models as m

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    now = timezone.now()
    team = m.Team.objects.create(name="bench")
    issuer = m.Issuer.objects.create(name="bench-ca")
    owners = m.Owner.objects.bulk_create(
        [m.Owner(name=f"Owner {i}", email=f"owner{i}@bench.test", team=team) for i in range(1000)]
    )
    policies = m.RenewalPolicy.objects.bulk_create(
        [
            m.RenewalPolicy(
                name=f"bench-{i}",
                alert_thresholds_days=thresholds,
                alert_severity_map=severity,
                alert_channels=channels,
            )
            for i, (thresholds, severity, channels) in enumerate(POLICIES)
        ]
    )
    spread = timedelta(days=spread_days) / size
    batch = 10_000
    for start in range(0, size, batch):
        m.ManagedCertificate.objects.bulk_create(
            [
                m.ManagedCertificate(
                    name=f"bench-{i}",
                    common_name=f"svc{i}.bench.test",
                    owner=owners[i % len(owners)],
                    team=team,
                    issuer=issuer,
                    renewal_policy=policies[i % len(policies)],
                    status="Active",
                    expires_at=now + spread * (i + 1),
                )
                for i in range(start, min(start + batch, size))
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have done on a live inventory
    return {"seed_seconds": round(time.perf_counter() - started, 2)}


def _timed_check() -> dict:
    from django.db import connection

    from certificates.expiry.services.check import check_expiring_certificates

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    connection.ensure_connection()
    backend = _backend_cpu_reader()
    with connection.execute_wrapper(count):
        cpu, backend_cpu = time.process_time(), backend()
        started = time.perf_counter()
        result = check_expiring_certificates()
        seconds = time.perf_counter() - started
        cpu, backend_cpu = time.process_time() - cpu, backend() - backend_cpu
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "postgres_cpu_seconds": round(backend_cpu, 2),
        "statements": statements,
        **result.as_dict(),
    }


def _backend_cpu_reader():
    """CPU seconds of this connection's PostgreSQL backend so far (from /proc: the server runs on this machine
    in the benchmark); a shared machine's load moves wall time, not this."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # not on this machine, or not readable: reported as 0
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    return read


def check(size: int) -> dict:
    """Time a cold check and a second, fully deduplicated one; cross-check the count with CaptureQueriesContext."""
    _setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from certificates.expiry.services.check import check_expiring_certificates

    cold = _timed_check()
    second = _timed_check()
    with CaptureQueriesContext(connection) as captured:
        check_expiring_certificates()
    return {
        "size": size,
        "cold": cold,
        "second": second,
        "captured_queries_third_run": len(captured.captured_queries),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _database_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _child(mode: str, size: int, database: str, spread_days: int) -> dict:
    from cryptography.fernet import Fernet

    # DEBUG off: with it on, Django would keep every statement (and its parameters) in memory.
    env = {**os.environ, "DATABASE_URL": _database_url(database), "CERTCTL_DEBUG": "false"}
    env.setdefault("CERTCTL_SECRET_KEY", "bench-only-" + Fernet.generate_key().decode())
    env.setdefault("CERTCTL_ENCRYPTION_KEY", Fernet.generate_key().decode())
    env.setdefault("CERTCTL_DATA_DIR", str(ROOT / ".tmp" / "bench"))
    out = subprocess.run(
        [sys.executable, __file__, f"--{mode}", str(size), "--spread-days", str(spread_days)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--spread-days", type=int, default=400, help="expiries spread over this many days")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--check", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        print(json.dumps(seed(args.seed, args.spread_days)))
        return
    if args.check:
        print(json.dumps(check(args.check)))
        return
    if "DATABASE_URL" not in os.environ:
        sys.exit("run it through scripts/with-services.sh (needs DATABASE_URL of a PostgreSQL server)")

    print(
        f"expiry check benchmark, sizes {args.sizes}, {len(POLICIES)} policies, "
        f"expiries over the next {args.spread_days} days"
    )
    rows = []
    for size in args.sizes:
        database = f"certctl_bench_expiry_{size}"
        _recreate_database(database)
        seeded = _child("seed", size, database, args.spread_days)
        result = _child("check", size, database, args.spread_days)
        rows.append(result)
        cold, second = result["cold"], result["second"]
        print(f"\n{size:,} certificates (seeded in {seeded['seed_seconds']} s)")
        print(
            f"  cold run:   {cold['seconds']:6.2f} s  {size / cold['seconds']:>9,.0f} certificates/s  "
            f"{cold['statements']} statements  scanned {cold['scanned']:,}  "
            f"alerts {sum(cold['alerts_created'].values()):,}  status changes {sum(cold['status_changes'].values()):,}"
        )
        print(
            f"  cold run CPU: {cold['cpu_seconds']:.2f} s in the check's process, "
            f"{cold['postgres_cpu_seconds']:.2f} s in its PostgreSQL backend"
        )
        print(
            f"  second run: {second['seconds']:6.2f} s  {size / second['seconds']:>9,.0f} certificates/s  "
            f"{second['statements']} statements  deduplicated {second['deduped']:,}  "
            f"created {sum(second['alerts_created'].values())}"
        )
        print(f"  CaptureQueriesContext on a third run: {result['captured_queries_third_run']} queries")
        print(f"  peak RSS of the check process: {result['peak_rss_mb']} MB")
        print(f"  alerts per channel: {cold['alerts_created']}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"\nstatements cold {first['cold']['statements']} -> {last['cold']['statements']}, "
            f"second {first['second']['statements']} -> {last['second']['statements']} "
            f"for {last['size'] // first['size']}x the certificates"
        )
    print("targets: cold < 10 s, second < 5 s, RSS < 300 MB at 100,000 certificates")
    first, last = rows[0], rows[-1]
    size = f"{last['size'] // 1000}k"
    print(f"figure expiry_cold_{size} {last['cold']['seconds']:.2f} s")
    # Issue 21's name for the same figure (target < 1.5 s at 100k), and the load it was measured under.
    print(f"figure expiry_cold_s_{size} {last['cold']['seconds']:.2f} s")
    print(f"figure expiry_cold_cpu_s_{size} {last['cold']['cpu_seconds']:.2f} s")
    print(f"figure expiry_cold_postgres_cpu_s_{size} {last['cold']['postgres_cpu_seconds']:.2f} s")
    print(f"figure expiry_load_average {os.getloadavg()[0]:.2f} load")
    print(f"figure expiry_second_{size} {last['second']['seconds']:.2f} s")
    print(f"figure expiry_cold_statements_{size} {last['cold']['statements']} statements")
    print(f"figure expiry_peak_rss_{size} {last['peak_rss_mb']} MB")
    if len(rows) > 1:
        # The reference is the smallest size of the same run: time per certificate should not grow with size.
        per_cert = [row["cold"]["seconds"] / row["size"] for row in (first, last)]
        print(
            f"figure expiry_cold_per_certificate_vs_{first['size'] // 1000}k {per_cert[1] / per_cert[0]:.2f} ratio"
        )


if __name__ == "__main__":
    main()
