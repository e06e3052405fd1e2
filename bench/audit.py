"""Benchmark: what the API audit middleware adds to a request, and proof that no row is lost.

5,000 authenticated GETs of a list endpoint per mode, interleaved request by request in one run (in-process
Django test client): middleware off, on with the buffered writer ("queue", the default) and on with an insert in
the request ("sync", for comparison). Prints p50/p90/p99 per mode and the added latency, then checks that exactly
5,000 rows were recorded for the queue mode (one per request id) and that the hash chain verifies.

    scripts/with-services.sh /work/venv/bin/python bench/audit.py          # PostgreSQL (DATABASE_URL)
    /work/venv/bin/python bench/audit.py                                    # embedded SQLite

Not a test: it never fails on timing, only on lost rows.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # this worktree's code, and not bench/audit.py shadowing the `audit` app

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "5000"))
ENDPOINT = "/api/v1/audit?per_page=1&resource_type=certificate"


def drop_bench_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg
    from django.db import connections

    connections.close_all()
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')


def prepare_environment() -> str:
    os.environ.setdefault("CERTCTL_DEBUG", "true")
    os.environ.setdefault("CERTCTL_DATA_DIR", tempfile.mkdtemp(prefix="certctl-bench-"))
    os.environ["CERTCTL_RATE_LIMIT"] = "100000000/min"
    os.environ["CERTCTL_AUDIT_API_WRITE"] = "queue"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        # A fresh database next to the one with-services.sh names, so each run starts from an empty trail.
        import psycopg

        parts = urlsplit(url)
        name = f"certctl_bench_{os.getpid()}"
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        return "PostgreSQL"
    return "SQLite"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    backend = prepare_environment()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client, override_settings

    from audit.models import AuditEvent
    from audit.services.record import record
    from audit.services.verify import verify_chain
    from audit.services.writer import writer
    from tests.factories import make_api_key

    call_command("migrate", verbosity=0)
    _, key = make_api_key("bench")
    for i in range(20):
        record("certificate_created", resource_type="certificate", resource_id=f"cert-{i}")

    def client(middleware: list[str]) -> Client:
        with override_settings(MIDDLEWARE=middleware):
            c = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
            assert (
                c.get(ENDPOINT, HTTP_X_REQUEST_ID="warmup").status_code == 200
            )  # loads this middleware chain
        return c

    without = [m for m in settings.MIDDLEWARE if m != "audit.middleware.ApiAuditMiddleware"]
    clients = {
        "off": client(without),
        "queue": client(settings.MIDDLEWARE),
        "sync": client(settings.MIDDLEWARE),
    }
    latencies: dict[str, list[float]] = {mode: [] for mode in clients}
    writer.flush()

    started = time.perf_counter()
    for i in range(REQUESTS):
        order = list(clients)
        random.shuffle(order)
        for mode in order:
            settings.AUDIT_API_WRITE = "sync" if mode == "sync" else "queue"
            t0 = time.perf_counter()
            response = clients[mode].get(ENDPOINT, HTTP_X_REQUEST_ID=f"bench-{mode}-{i}")
            latencies[mode].append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.content
    wall = time.perf_counter() - started
    settings.AUDIT_API_WRITE = "queue"
    pending_at_end = writer.pending
    t0 = time.perf_counter()
    writer.stop()
    final_flush_ms = (time.perf_counter() - t0) * 1000

    # The middleware's own work per request in queue mode, free of the view's noise: build the row and queue it.
    from audit.services.api_calls import ApiCall, record_api_call

    batching = f"batch {settings.AUDIT_BATCH_SIZE}, interval {settings.AUDIT_FLUSH_INTERVAL}s"
    settings.AUDIT_FLUSH_INTERVAL, settings.AUDIT_BATCH_SIZE = 3600, 10_000
    t0 = time.perf_counter()
    for i in range(REQUESTS):
        record_api_call(ApiCall("GET", "/api/v1/audit", "per_page=1", "bench", "User", "", 200, 1.0, "127.0.0.1",
                                f"direct-{i}"))  # fmt: skip
    submit_us = (time.perf_counter() - t0) / REQUESTS * 1e6
    t0 = time.perf_counter()
    writer.stop()
    batch_ms = (time.perf_counter() - t0) * 1000

    recorded = {
        mode: AuditEvent.objects.filter(action="api_get", details__request_id__startswith=f"bench-{mode}-")
        .values("details__request_id")
        .distinct()
        .count()
        for mode in clients
    }
    chain = verify_chain()

    print(f"certctl audit middleware benchmark - {backend}, {REQUESTS} GET {ENDPOINT} per mode, interleaved")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}; wall {wall:.1f}s")  # fmt: skip
    base = latencies["off"]
    print(
        f"{'mode':<6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} rows"
    )
    for mode, values in latencies.items():
        rows = "-" if mode == "off" else str(recorded[mode])
        print(
            f"{mode:<6} {percentile(values, 50):8.3f} {percentile(values, 90):8.3f} {percentile(values, 99):8.3f} "
            f"{statistics.fmean(values):8.3f} {percentile(values, 50) - percentile(base, 50):+8.3f} "
            f"{percentile(values, 99) - percentile(base, 99):+8.3f} {rows}"
        )
    print(f"queue: {pending_at_end} rows still buffered after the last request, written by the final flush "
          f"in {final_flush_ms:.1f} ms; {batching}")  # fmt: skip
    print(f"queue submit (row built + queued, no view): {submit_us:.1f} us/request; writing those {REQUESTS} "
          f"rows in batches: {batch_ms:.0f} ms ({REQUESTS / batch_ms * 1000:,.0f} rows/s)")  # fmt: skip
    print(
        f"chain: {'OK' if chain.ok else 'BROKEN'} over {chain.checked} rows; off-mode rows: {recorded['off']}"
    )
    for mode in ("queue", "sync"):
        added = percentile(latencies[mode], 50) - percentile(base, 50)
        print(f"figure audit_{mode}_added_p50_ms {added:.3f} ms")
        print(
            f"figure audit_{mode}_added_p99_ms {percentile(latencies[mode], 99) - percentile(base, 99):.3f} ms"
        )
    lost = {mode: REQUESTS - recorded[mode] for mode in ("queue", "sync") if recorded[mode] != REQUESTS}
    if lost or recorded["off"] or not chain.ok:
        sys.exit(f"FAILED: lost rows {lost}, rows recorded with the middleware off {recorded['off']}")


if __name__ == "__main__":
    try:
        main()
    finally:
        if os.environ.get("DJANGO_SETTINGS_MODULE"):
            drop_bench_database()
