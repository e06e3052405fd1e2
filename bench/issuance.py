"""Benchmark of issuance: 5,000 leaves from pre-made CSRs through the service layer vs raw `cryptography`.

    scripts/with-services.sh /work/venv/bin/python bench/issuance.py [--count 5000] [--rounds 10] [--workers 1]
    [--ca-key ec|rsa] [--batch N] [--django-ca-python /work/venv-djangoca/bin/python]

Creates a fresh PostgreSQL database, a local root + intermediate CA (P-256 by default), `count` managed
certificates and one ECDSA P-256 CSR for each. Then it measures, on the same certificates:
  1. raw cryptography: parse + verify each CSR, build the same 8 extensions, sign (no database);
  2. checks + issuer backend: issue_from_csr's CPU part (CSR + profile checks, LocalCA signing), no database;
  3. service layer, one at a time: `issue_from_csr` for each certificate (CSR + profile checks, signing, version
     row, certificate update, RenewalSuccess outbox row, audit row: one atomic statement each, as an API or agent
     request issues; the delivery tasks and the buffered issuance counter are published/written as in
     production, and flushed before the clock stops); with --workers N the certificates are split over N processes;
  4. service layer, batched: `issue_many` with CERTCTL_JOB_PROCESSOR_BATCH_SIZE (25) requests per call (or
     --batch), as the job processor issues a claimed batch: the same checks, rows and notifications per
     certificate, one transaction per call (the same certificates again: each gets a second version);
  5. agent CSRs: `agent_work.submit_csrs`, the service behind POST /api/v1/agents/{id}/csrs, 100 CSRs per
     request for Renewal jobs AwaitingCSR assigned to the agent (made before the clock starts): job lookup,
     checks, signing, each job moved to Running and Completed with its audit rows, and the same rows (a third
     version of each certificate);
  6. optionally django-ca 3.2's `sign_cert` path in its own venv (bench/issuance_djangoca.py --serve), on SQLite
     and on a fresh database of the same PostgreSQL server.
The certificates are split into --rounds slices and every contestant does each slice in turn, in a rotating order,
because this shared machine's speed drifts by tens of percent within a minute: run one after the other, the
ratios moved between 0.9x and 1.5x from run to run. Prints certificates/s, CPU per certificate, the ratios
(overall and the range over rounds). Target: >= 500 certificates/s through the service layer and faster than
django-ca. Never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from issuance_references import DjangoCA, django_ca_database_url, raw_cryptography

ROOT = Path(__file__).resolve().parent.parent
AGENT_BATCH = 100  # CSRs per agent request: the cap of POST /api/v1/agents/{id}/csrs
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
    from certificates.issuance.services.ca_setup import init_ca
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
    m.Agent.objects.create(name="bench-agent", status="Online")
    csrs = [make_csr([c.common_name, *c.sans])[0] for c in certs]
    return [c.pk for c in certs], csrs


def _checks_and_signing(cert_ids: list[str], csrs: list[str]) -> float:
    """issue_from_csr's CPU part alone: CSR + profile checks and signing through the issuer backend, no DB."""
    from django.utils import timezone

    from certificates.inventory.models import ManagedCertificate
    from certificates.issuance.services.csr_policy import parse_csr, plan_leaf
    from certificates.issuance.services.issuance import sign_planned_leaf

    by_pk = ManagedCertificate.objects.select_related("issuer", "profile").in_bulk(cert_ids)
    started = time.perf_counter()
    for pk, pem in zip(cert_ids, csrs, strict=True):
        certificate = by_pk[pk]
        csr = parse_csr(pem)
        sign_planned_leaf(certificate, csr, plan_leaf(certificate, csr), timezone.now())
    return time.perf_counter() - started


def _service_worker(pairs: list[tuple[str, str]], batched: bool = False) -> tuple[float, float]:
    """Issue `pairs` in this process; returns (start, end) on the machine-wide monotonic clock."""
    from django.db import connection

    from certctl.kernel import counters
    from certificates.inventory.models import ManagedCertificate
    from certificates.issuance.services.issuance import IssueRequest, issue_from_csr, issue_many
    from notifications.services import publisher

    if multiprocessing.parent_process() is not None:
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
    return started, time.perf_counter()


def _agent_submissions(ids: list[str], pems: list[str]) -> tuple[float, float]:
    """An agent sending the slice's CSRs in requests of AGENT_BATCH to the service behind
    POST /api/v1/agents/{id}/csrs (`agent_work.submit_csrs`), each for a Renewal job AwaitingCSR that is assigned
    to it (made before the clock starts): job lookup and claim, checks, signing, the job's moves to Running and
    Completed, and the same rows as the other entry points."""
    from django.utils import timezone

    from certctl.kernel import counters
    from certificates.agents.services.work import submit_csrs
    from certificates.inventory.models import Agent
    from certificates.issuance.models import Job
    from notifications.services import publisher

    agent = Agent.objects.get(name="bench-agent")
    now = timezone.now()
    Job.objects.bulk_create(
        [
            Job(type="Renewal", status="AwaitingCSR", certificate_id=pk, agent=agent, scheduled_at=now)
            for pk in ids
        ]
    )
    cpu, started = time.process_time(), time.perf_counter()
    for start in range(0, len(ids), AGENT_BATCH):
        submissions = [
            {"certificate_id": pk, "csr_pem": pem}
            for pk, pem in zip(
                ids[start : start + AGENT_BATCH], pems[start : start + AGENT_BATCH], strict=True
            )
        ]
        results = submit_csrs(agent, submissions)
        assert all(result.version for result in results), [r.error for r in results if r.error][:3]
    publisher.flush()
    counters.flush_buffered()
    return time.perf_counter() - started, time.process_time() - cpu


def _worker_cpu(pairs: list[tuple[str, str]], batched: bool) -> tuple[float, float, float]:
    cpu = time.process_time()
    started, ended = _service_worker(pairs, batched)
    return started, ended, time.process_time() - cpu


def _service_layer(pool, pairs: list[tuple[str, str]], workers: int, batched: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the issuing processes); with a pool, from the first worker's start to the
    last one's end (perf_counter is CLOCK_MONOTONIC: one clock for every process)."""
    if pool is None:
        cpu = time.process_time()
        started, ended = _service_worker(pairs, batched)
        return ended - started, time.process_time() - cpu
    results = pool.starmap(_worker_cpu, [(pairs[i::workers], batched) for i in range(workers)])
    return max(r[1] for r in results) - min(r[0] for r in results), sum(r[2] for r in results)


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


def _timed(function, *args) -> tuple[float, float]:
    cpu = time.process_time()
    seconds = function(*args)
    return seconds, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds the count is split into")
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
    from certificates.inventory.models import CertificateVersion
    from certificates.issuance.models import Job
    from notifications.models import NotificationEvent

    others: list[DjangoCA] = []
    if args.django_ca_python:  # set up (and make its CSRs) while certctl seeds
        # SQLite in-process is django-ca's headless default; PostgreSQL is the like-for-like comparison.
        others = [
            DjangoCA(args.django_ca_python, args.count, url) for url in (None, django_ca_database_url())
        ]
    t0 = time.perf_counter()
    cert_ids, csrs = _seed(args.count, args.ca_key)
    print(
        f"seeded {args.count} certificates and CSRs in {time.perf_counter() - t0:.1f} s (CA key: {args.ca_key})"
    )
    versions = {other.database: other.ready() for other in others}
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {_round_trip_ms():.3f} ms per SELECT 1"
    )
    pool = None
    if args.workers > 1:
        from django.db import connection

        connection.close()
        pool = multiprocessing.get_context("fork").Pool(args.workers)

    workers = f"{args.workers} worker(s)"
    contestants = {
        "raw cryptography (parse+verify+sign, no DB)": lambda ids, pems: _timed(raw_cryptography, pems),
        "service checks + issuer backend, no DB": lambda ids, pems: _timed(_checks_and_signing, ids, pems),
        f"certctl issue_from_csr, one at a time, {workers}": lambda ids, pems: _service_layer(
            pool, list(zip(ids, pems, strict=True)), args.workers, batched=False
        ),
        f"certctl issue_many, {BATCH} per call, {workers}": lambda ids, pems: _service_layer(
            pool, list(zip(ids, pems, strict=True)), args.workers, batched=True
        ),
    }
    contestants[f"certctl agent CSRs, {AGENT_BATCH} per request, 1 process"] = _agent_submissions
    for other in others:
        contestants[f"django-ca {versions[other.database]} sign_cert ({other.database}), 1 process"] = (
            lambda ids, pems, other=other: other.sign(len(ids))
        )
    # Interleaved: this shared machine's speed drifts by tens of percent within a minute, so every contestant
    # runs a slice of the certificates in every round (in a rotating order) instead of all of them in turn.
    names = list(contestants)
    wall = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(names, 0.0)
    per_round: dict[str, list[float]] = {name: [] for name in names}
    size = -(-args.count // args.rounds)
    for number, start in enumerate(range(0, args.count, size)):
        ids, pems = cert_ids[start : start + size], csrs[start : start + size]
        for name in names[number % len(names) :] + names[: number % len(names)]:
            seconds, cpu_seconds = contestants[name](ids, pems)
            wall[name] += seconds
            cpu[name] += cpu_seconds
            per_round[name].append(len(ids) / seconds)
    if pool is not None:
        pool.close()
        pool.join()
    for other in others:
        other.close()

    issued = CertificateVersion.objects.count()
    entry_points = 3  # issue_from_csr, issue_many, agent submissions: each issues every certificate once
    assert issued == entry_points * args.count, (
        f"expected {entry_points * args.count} versions, found {issued}"
    )
    assert NotificationEvent.objects.filter(type="RenewalSuccess").count() == entry_points * args.count
    assert AuditEvent.objects.filter(action="certificate_issued").count() == entry_points * args.count
    assert Job.objects.filter(type="Renewal", status="Completed").count() == args.count

    rate = {name: args.count / wall[name] for name in names}
    print(f"{args.count} certificates in {args.rounds} interleaved rounds:")
    for name in names:
        print(
            f"  {name + ':':62s} {rate[name]:7.0f} certs/s ({wall[name]:5.2f} s; rounds "
            f"{min(per_round[name]):.0f}-{max(per_round[name]):.0f}/s; CPU {cpu[name] / args.count * 1000:.2f} ms each)"
        )
    _report_published(entry_points * args.count)
    ours = [name for name in names if name.startswith("certctl")]
    for other in [name for name in names if name.startswith("django-ca")]:
        for name in ours:
            ratios = [a / b for a, b in zip(per_round[name], per_round[other], strict=True)]
            print(
                f"{name.split(',')[0]} vs django-ca {other.split(' sign_cert ')[1].split(',')[0]}: "
                f"{rate[name] / rate[other]:.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f}x)"
            )
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    for name in ours:
        print(f"target >= 500 certs/s ({name.split(',')[0]}): {'met' if rate[name] >= 500 else 'NOT met'}")
    # Machine-readable figures: rates, and the ratios to django-ca on the same PostgreSQL server when it ran.
    short = {"issue_from_csr": "issue_one", "issue_many": "issue_many", "agent CSRs": "issue_agent_csrs"}
    for name in ours:
        key = next((v for k, v in short.items() if k in name), None)
        if key is None:
            continue
        print(f"figure {key}_per_s {rate[name]:.0f} certs/s")
        for other in [n for n in names if n.startswith("django-ca") and "(PostgreSQL)" in n]:
            print(f"figure {key}_ratio_djangoca_pg {rate[name] / rate[other]:.2f} ratio")
        for other in [n for n in names if n.startswith("django-ca") and "(SQLite)" in n]:
            print(f"figure {key}_ratio_djangoca_sqlite {rate[name] / rate[other]:.2f} ratio")


if __name__ == "__main__":
    main()
