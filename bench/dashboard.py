"""Benchmark: the operator console's home page over a large inventory (PostgreSQL).

Seeds N certificates (default 100,000, as bench/api_inventory.py does), 30,000 issued versions over the last 45
days and 50,000 notifications over the last 20 days, then times, in-process through the whole middleware and
admin stack as a logged-in superuser (median of R runs):
  - the console's home page (/admin/): tiles, CRL and heartbeat state, three charts, the grouped pages;
  - GET /api/v1/stats/summary, the reference: the same counts through the API, which the page includes.

    scripts/with-services.sh .venv/bin/python bench/dashboard.py     # needs DATABASE_URL (PostgreSQL)

Target: the page renders in under 200 ms at 100,000 certificates. Not a test: prints figures, never fails on timing.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_inventory import django_on_a_fresh_database, drop_database, seed  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
VERSIONS = 30_000
NOTIFICATIONS = 50_000


def _ulid(prefix: str, when: datetime) -> str:
    """An id as certctl.kernel.ids mints it at `when`: the time-ordered ids the charts read by range."""
    from certctl.kernel.ids import _encode

    return f"{prefix}-{_encode(int(when.timestamp() * 1000), 10)}{_encode(random.getrandbits(80), 16)}"


def seed_history() -> None:
    from django.db import connection

    from certificates.models import CertificateVersion, ManagedCertificate
    from notifications.models import NotificationEvent

    now = datetime.now(UTC)
    cert_ids = list(ManagedCertificate.objects.values_list("id", flat=True)[:VERSIONS])
    versions = []
    for index, cert_id in enumerate(cert_ids):
        when = now - timedelta(seconds=random.randrange(45 * 86400))
        versions.append(
            CertificateVersion(
                id=_ulid("certver", when),
                certificate_id=cert_id,
                serial_number=f"{index:x}",
                not_before=when,
                not_after=when + timedelta(days=90),
                fingerprint_sha256=f"{index:064x}",
                pem_chain="-",
                created_at=when,
            )
        )
    CertificateVersion.objects.bulk_create(versions, batch_size=5000)
    statuses = ["sent"] * 8 + ["failed", "dead"]
    events = []
    for index in range(NOTIFICATIONS):
        when = now - timedelta(seconds=random.randrange(20 * 86400))
        events.append(
            NotificationEvent(
                id=_ulid("notif", when),
                type="ExpirationWarning",
                channel="Email",
                message="bench",
                status=statuses[index % len(statuses)],
                certificate_id=cert_ids[index % len(cert_ids)],
            )
        )
    NotificationEvent.objects.bulk_create(events, batch_size=5000)
    # auto_now_add set created_at to now: spread it as the ids say.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notifications_notificationevent SET created_at = now() - (random() * interval '20 days')"
        )
        for table in ("certificates_certificateversion", "notifications_notificationevent"):
            cursor.execute(f"ANALYZE {table}")


def timed(client, url: str) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:300]
    return statistics.median(samples)


def main() -> None:
    url, admin = django_on_a_fresh_database()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    try:
        started = time.perf_counter()
        seed(ROWS)
        seed_history()
        seeded = time.perf_counter() - started
        operator = get_user_model().objects.create_superuser(
            "bench", "bench@example.test", "bench-password-1"
        )
        browser = Client(HTTP_HOST="localhost")
        browser.force_login(operator)
        api = APIClient(HTTP_HOST="localhost")
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key('bench')[1]}")

        print(
            f"certctl console benchmark: {ROWS:,} certificates, {VERSIONS:,} versions, "
            f"{NOTIFICATIONS:,} notifications; median of {RUNS} runs"
        )
        print(
            f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL"
        )
        print(f"seed: {seeded:.1f} s")
        summary_ms = timed(api, "/api/v1/stats/summary")
        page_ms = timed(browser, "/admin/")
        with CaptureQueriesContext(connection) as queries:
            browser.get("/admin/")
        print(f"  stats summary (API, the reference)          {summary_ms:8.1f} ms")
        print(f"  console home page (/admin/)                 {page_ms:8.1f} ms   {len(queries)} SQL queries")
        print(f"  page / summary: {page_ms / summary_ms:.2f}x   target: page < 200 ms")
        print(f"figure dashboard_page_ms {page_ms:.1f} ms")
        print(f"figure stats_summary_ms {summary_ms:.1f} ms")
        print(f"figure dashboard_vs_summary {page_ms / summary_ms:.2f} ratio")
    finally:
        drop_database(admin, urlsplit(url).path.lstrip("/"))


if __name__ == "__main__":
    main()
