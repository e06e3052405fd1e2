"""Benchmark of issuance: 5,000 leaves from pre-made CSRs through the service layer vs raw `cryptography`.

    scripts/with-services.sh /work/venv/bin/python bench/issuance.py [--count 5000] [--workers 1] [--ca-key ec|rsa]
    [--batch N] [--django-ca-python /work/venv-djangoca/bin/python]

Creates a fresh PostgreSQL database, a local root + intermediate CA (P-256 by default), `count` managed
certificates and one ECDSA P-256 CSR for each. Then, in the same run:
  1. raw cryptography: parse + verify each CSR, build the same 8 extensions, sign (no database);
  2. checks + issuer backend: issue_from_csr's CPU part (CSR + profile checks, LocalCA signing), no database;
  3. service layer, one at a time: `issue_from_csr` for each certificate (CSR + profile checks, signing, version
     row, certificate update, RenewalSuccess outbox row, audit row: one atomic statement each, as an API or agent
     request issues; the delivery tasks and the buffered issuance counter are published/written as in
     production, and flushed before the clock stops); with --workers N the certificates are split over N processes;
  4. service layer, batched: `issue_many` with CERTCTL_JOB_PROCESSOR_BATCH_SIZE (25) requests per call (or
     --batch), as the job processor issues a claimed batch: the same checks, rows and notifications per
     certificate, one transaction per call (the same certificates again: each gets a second version);
  5. optionally django-ca 3.2's `sign_cert` path in its own venv (bench/issuance_djangoca.py), if given.
Prints certificates/s and ratios. Target: >= 500 certificates/s through the service layer. Never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "certctl_bench_issuance"
BATCH = (
    200  # issuances per issue_many call: the job processor's default claim (CERTCTL_JOB_PROCESSOR_BATCH_SIZE)
)


def _prepare_database() -> None:
    """Point DATABASE_URL at a fresh database on the same server (created here, dropped on the next run)."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("run me inside scripts/with-services.sh (needs DATABASE_URL for PostgreSQL)")
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
    # Production settings (DEBUG off: no per-query logging), with throw-away keys.
    os.environ.setdefault("CERTCTL_DEBUG", "false")
    os.environ.setdefault("CERTCTL_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("CERTCTL_ENCRYPTION_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("CERTCTL_DATA_DIR", str(ROOT / ".tmp" / "bench-data"))
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)  # one "certificate issued" line per leaf would drown the figures
    from tests.issuance_helpers import _ensure_notification_task

    _ensure_notification_task()


def _seed(count: int, ca_key: str) -> tuple[list[str], list[str]]:
    from django.core.management import call_command

    from certificates import models as m
    from certificates.services.ca_setup import init_ca
    from tests.issuance_helpers import make_csr

    call_command("migrate", verbosity=0)
    root = init_ca("bench-root", subject="CN=Bench Root", key_type=ca_key)
    issuing = init_ca("bench-issuing", subject="CN=Bench Issuing", key_type=ca_key, parent=root)
    team = m.Team.objects.create(name="bench")
    owner = m.Owner.objects.create(name="Bench", email="bench@example.test", team=team)
    policy = m.RenewalPolicy.objects.create(name="bench")
    profile = m.CertificateProfile.objects.create(name="bench")
    certs = m.ManagedCertificate.objects.bulk_create(
        [
            m.ManagedCertificate(
                name=f"bench-{i}",
                common_name=f"svc{i}.bench.example.test",
                sans=[f"alt{i}.bench.example.test"],
                owner=owner,
                team=team,
                issuer=issuing,
                renewal_policy=policy,
                profile=profile,
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    csrs = [make_csr([c.common_name, *c.sans])[0] for c in certs]
    return [c.pk for c in certs], csrs


def _raw_cryptography(csrs: list[str]) -> float:
    """The floor: what signing alone costs with the same CA and extensions, no checks, no database."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

    from certificates.issuers.local import cached_material
    from certificates.models import Issuer
    from certificates.pki import signature_hash

    ca = cached_material(Issuer.objects.get(name="bench-issuing"))
    algorithm = signature_hash(ca.private_key)
    ski_ca = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski_ca)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for pem in csrs:
        csr = x509.load_pem_x509_csr(pem.encode())
        assert csr.is_signature_valid
        names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        key = csr.public_key()
        (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca.certificate.subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
            .add_extension(aki, critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier("http://x/crl")], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier("http://x/ocsp"),
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(names, critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(ca.private_key, algorithm)
        )
    return time.perf_counter() - started


def _checks_and_signing(cert_ids: list[str], csrs: list[str]) -> float:
    """issue_from_csr's CPU part alone: CSR + profile checks and signing through the issuer backend, no DB."""
    from django.utils import timezone

    from certificates.models import ManagedCertificate
    from certificates.services.csr_policy import parse_csr, plan_leaf
    from certificates.services.issuance import sign_planned_leaf

    by_pk = ManagedCertificate.objects.select_related("issuer", "profile").in_bulk(cert_ids)
    started = time.perf_counter()
    for pk, pem in zip(cert_ids, csrs, strict=True):
        certificate = by_pk[pk]
        csr = parse_csr(pem)
        sign_planned_leaf(certificate, csr, plan_leaf(certificate, csr), timezone.now())
    return time.perf_counter() - started


def _service_worker(pairs: list[tuple[str, str]], batched: bool = False) -> float:
    from django.db import connection

    from certctl import counters
    from certificates.models import ManagedCertificate
    from certificates.services.issuance import IssueRequest, issue_from_csr, issue_many
    from notifications.services import publisher

    connection.close()  # a forked child needs its own connection
    by_pk = (
        ManagedCertificate.objects.select_related("issuer", "profile", "owner", "renewal_policy")
        .prefetch_related("targets")
        .in_bulk([pk for pk, _ in pairs])
    )
    started = time.perf_counter()
    if batched:  # as the job processor issues a claimed batch
        for start in range(0, len(pairs), BATCH):
            requests = [IssueRequest(by_pk[pk], csr) for pk, csr in pairs[start : start + BATCH]]
            outcomes = issue_many(requests, actor="bench", actor_type="System")
            assert all(outcome.version for outcome in outcomes), [o.error for o in outcomes if o.error][:3]
    else:
        for pk, csr in pairs:
            issue_from_csr(by_pk[pk], csr, actor="bench", actor_type="System")
    publisher.flush()  # delivery tasks still queued in this process (pool children skip atexit)
    counters.flush_buffered()
    return time.perf_counter() - started


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _service_layer(cert_ids: list[str], csrs: list[str], workers: int, batched: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the issuing processes)."""
    pairs = list(zip(cert_ids, csrs, strict=True))
    cpu = _cpu_seconds()
    if workers == 1:
        return _service_worker(pairs, batched), _cpu_seconds() - cpu
    from django.db import connection

    connection.close()
    chunks = [(pairs[i::workers], batched) for i in range(workers)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.starmap(_service_worker, chunks)
    return time.perf_counter() - started, _cpu_seconds() - cpu


def _report_published(rows: int) -> None:
    """How many delivery-task messages the issuances left on the broker (no worker runs in this benchmark)."""
    import redis

    messages = [
        json.loads(raw) for raw in redis.Redis.from_url(os.environ["REDIS_URL"]).lrange("celery", 0, -1)
    ]
    deliveries = [m for m in messages if m["headers"]["task"] == "notifications.deliver_notifications"]
    print(
        f"  delivery tasks on the broker: {len(deliveries)} deliver_notifications messages for {rows} "
        f"RenewalSuccess rows ({len(messages) - len(deliveries)} other messages were already queued)"
    )


def _round_trip_ms(n: int = 500) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(n):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (time.perf_counter() - started) / n * 1000


def _django_ca_database_url() -> str:
    """A fresh database for django-ca on the same PostgreSQL server, so both sides write through one server."""
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS certctl_bench_djangoca")
        conn.execute("CREATE DATABASE certctl_bench_djangoca")
    return urlunsplit(parts._replace(path="/certctl_bench_djangoca"))


def _django_ca(python: str, count: int, database_url: str | None = None) -> dict | None:
    script = ROOT / "bench" / "issuance_djangoca.py"
    command = [python, str(script), "--count", str(count)]
    if database_url:
        command += ["--database-url", database_url]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        print(f"django-ca run failed:\n{result.stderr[-2000:]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--ca-key", choices=["ec", "rsa"], default="ec")
    parser.add_argument("--django-ca-python", help="python of a venv with django-ca 3.2 installed")
    parser.add_argument(
        "--batch", type=int, help="issue_many requests per call (default: the processor's batch)"
    )
    args = parser.parse_args()

    _prepare_database()
    _setup_django()
    from django.conf import settings

    global BATCH  # read by the forked workers
    BATCH = args.batch or settings.JOB_PROCESSOR_BATCH_SIZE
    from audit.models import AuditEvent
    from certificates.models import CertificateVersion
    from notifications.models import NotificationEvent

    t0 = time.perf_counter()
    cert_ids, csrs = _seed(args.count, args.ca_key)
    print(
        f"seeded {args.count} certificates and CSRs in {time.perf_counter() - t0:.1f} s (CA key: {args.ca_key})"
    )

    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {_round_trip_ms():.3f} ms per SELECT 1"
    )
    raw = _raw_cryptography(csrs)
    checked = _checks_and_signing(cert_ids, csrs)
    service, service_cpu = _service_layer(cert_ids, csrs, args.workers, batched=False)
    batched, batched_cpu = _service_layer(cert_ids, csrs, args.workers, batched=True)
    issued = CertificateVersion.objects.count()
    assert issued == 2 * args.count, f"expected {2 * args.count} versions, found {issued}"
    assert NotificationEvent.objects.filter(type="RenewalSuccess").count() == 2 * args.count
    assert AuditEvent.objects.filter(action="certificate_issued").count() == 2 * args.count

    raw_rate, service_rate, batched_rate = args.count / raw, args.count / service, args.count / batched
    print(f"raw cryptography (parse+verify+sign, no DB): {raw_rate:8.0f} certs/s  ({raw:.2f} s)")
    print(
        f"service checks + issuer backend, no DB:      {args.count / checked:8.0f} certs/s  ({checked:.2f} s)"
    )
    for label, rate, seconds, cpu in (
        ("issue_from_csr, one at a time", service_rate, service, service_cpu),
        (f"issue_many, {BATCH} per call", batched_rate, batched, batched_cpu),
    ):
        print(
            f"service layer, {label + ',':30s} {args.workers} worker(s): {rate:8.0f} certs/s  ({seconds:.2f} s)"
            f"  = {rate / raw_rate:.0%} of raw; CPU {cpu / args.count * 1000:.2f} ms per certificate"
        )
    _report_published(2 * args.count)
    if args.django_ca_python:
        # SQLite in-process is django-ca's headless default; PostgreSQL is the like-for-like comparison.
        for database_url in (None, _django_ca_database_url()):
            other = _django_ca(args.django_ca_python, args.count, database_url)
            if other:
                print(
                    f"django-ca {other['version']} sign_cert path ({other['database']}): {other['rate']:8.0f} certs/s "
                    f"({other['seconds']:.2f} s); certctl one at a time {service_rate / other['rate']:.2f}x, "
                    f"issue_many {batched_rate / other['rate']:.2f}x"
                )
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    for label, rate in (("one at a time", service_rate), ("issue_many", batched_rate)):
        print(
            f"target >= 500 certs/s through the service layer ({label}): {'met' if rate >= 500 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
