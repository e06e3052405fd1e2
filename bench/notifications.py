"""Notification delivery throughput: 10,000 events to a loopback HTTP sink with 1 and 4 worker processes.

    VENV=/work/venv scripts/with-services.sh /work/venv/bin/python bench/notifications.py [--events 10000]

Needs PostgreSQL (DATABASE_URL, as exported by scripts/with-services.sh); creates and drops its own database.
Each worker process runs the pending sweep (claim a batch with FOR UPDATE SKIP LOCKED, POST each event to the
sink with an HMAC signature, write the outcome conditionally) until the outbox is empty. The events are enqueued
as one burst, so "enqueue-to-delivered" latency is the time each event waited in the queue plus its delivery.
Prints deliveries/s, p50/p99 latency and the 4-worker/1-worker ratio. Not a test: it never fails on timing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # this file is named like the app; make `import notifications` find the app

BENCH_DB = "certctl_bench_notifications"


def _environment() -> None:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("bench/notifications.py needs PostgreSQL: run it under scripts/with-services.sh")
    os.environ["CERTCTL_BENCH_ADMIN_URL"] = base.rsplit("/", 1)[0] + "/postgres"
    os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + f"/{BENCH_DB}"
    os.environ.setdefault("CERTCTL_DEBUG", "true")
    os.environ.setdefault("CERTCTL_DATA_DIR", str(ROOT / ".tmp" / "bench-data"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
    os.environ["CERTCTL_LOG_LEVEL"] = "WARNING"


def _create_database() -> None:
    import psycopg

    with psycopg.connect(os.environ["CERTCTL_BENCH_ADMIN_URL"], autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def _drop_database() -> None:
    import psycopg

    with psycopg.connect(os.environ["CERTCTL_BENCH_ADMIN_URL"], autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def worker(ready, start, batch_size: int, counts) -> None:
    """One worker process: wait for the start signal, then sweep until nothing is left."""
    import django

    django.setup()
    from django.db import connection

    from notifications.services.delivery import process_pending

    connection.ensure_connection()
    ready.put(os.getpid())
    start.wait()
    cpu = time.process_time()
    delivered = 0
    while True:
        result = process_pending(batch_size=batch_size, min_age_seconds=0, max_batches=1)
        if not result.claimed:
            break
        delivered += result.sent
    counts.put((delivered, time.process_time() - cpu))


def _enqueue(events: int) -> None:
    from django.utils import timezone

    from notifications.models import NotificationEvent

    NotificationEvent.objects.all().delete()
    now = timezone.now()
    rows = [
        NotificationEvent(
            type="ExpirationWarning",
            channel="Webhook",
            recipient="owner@example.test",
            subject=f"svc{i}.example.test expires in 7 days",
            message=f"Certificate svc{i}.example.test expires in 7 days.",
            severity_tier="warning",
            threshold_days=7,
            created_at=now,
        )
        for i in range(events)
    ]
    NotificationEvent.objects.bulk_create(rows, batch_size=2000)


def _latencies() -> tuple[float, float, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.99) WITHIN GROUP (ORDER BY s),"
            " max(s) FROM (SELECT extract(epoch FROM sent_at - created_at) AS s"
            " FROM notifications_notificationevent WHERE status = 'sent') t"
        )
        return cursor.fetchone()


def run(workers: int, events: int, batch_size: int, sink) -> dict:
    from notifications.models import NotificationEvent

    sink.reset()
    context = multiprocessing.get_context("spawn")
    ready, start, counts = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=worker, args=(ready, start, batch_size, counts)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # every worker has imported Django and connected before the burst is enqueued
        ready.get(timeout=120)
    sink_cpu = time.process_time()
    began = time.perf_counter()
    _enqueue(events)
    start.set()
    per_worker = [counts.get() for _ in processes]
    elapsed = time.perf_counter() - began
    sink_cpu = time.process_time() - sink_cpu
    for process in processes:
        process.join()
    sent = NotificationEvent.objects.filter(status="sent").count()
    p50, p99, worst = _latencies()
    return {
        "workers": workers,
        "sent": sent,
        "requests": sink.count("/webhook"),
        "seconds": elapsed,
        "per_second": sent / elapsed,
        "p50": p50,
        "p99": p99,
        "max": worst,
        "per_worker": per_worker,
        "worker_cpu_ms": sum(cpu for _, cpu in per_worker) * 1000 / max(sent, 1),
        "sink_cpu_ms": sink_cpu * 1000 / max(sent, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    _environment()
    _create_database()
    from tests.sinks import HTTPSink

    sink = HTTPSink().start()
    os.environ["CERTCTL_WEBHOOK_URL"] = sink.url_for("/webhook/hook-token")
    os.environ["CERTCTL_WEBHOOK_SECRET"] = "bench-secret"
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        results = [run(n, args.events, args.batch_size, sink) for n in args.workers]
    finally:
        sink.stop()
        from django.db import connections

        connections.close_all()
        _drop_database()

    print(
        f"notification delivery: {args.events} events, loopback webhook sink (HMAC-signed), batch {args.batch_size}"
    )
    print(
        f"{'workers':>7} {'sent':>6} {'seconds':>8} {'deliveries/s':>13} {'p50 s':>7} {'p99 s':>7} {'max s':>7}"
    )
    for r in results:
        print(
            f"{r['workers']:>7} {r['sent']:>6} {r['seconds']:>8.2f} {r['per_second']:>13.0f}"
            f" {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.2f}"
        )
        print(
            f"  deliveries per worker: {[n for n, _ in r['per_worker']]}; CPU per delivery:"
            f" workers {r['worker_cpu_ms']:.2f} ms, sink + enqueue {r['sink_cpu_ms']:.2f} ms"
        )
        if r["requests"] != r["sent"]:
            print(f"  note: sink saw {r['requests']} requests for {r['sent']} deliveries")
    if len(results) >= 2:
        print(
            f"ratio {results[-1]['workers']}/{results[0]['workers']} workers: "
            f"{results[-1]['per_second'] / results[0]['per_second']:.2f}x"
        )
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for r in results:
        print(f"figure notifications_per_s_{r['workers']}w {r['per_second']:.0f} deliveries/s")
        print(f"figure notifications_p99_s_{r['workers']}w {r['p99']:.2f} s")


if __name__ == "__main__":
    main()
