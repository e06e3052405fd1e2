"""An ACME order across attempts: a worker killed mid-order, a CA's Retry-After, and orders nothing will resume.

The kill test runs real Celery worker processes against pebble; the Retry-After tests drive the ACME client
against a small loopback CA that rate-limits; the clean-up tests need only the database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from certctl.kernel.crypto import decrypt_bytes
from certificates.enums import JobStatus
from certificates.inventory.models import CertificateVersion, Issuer
from certificates.issuance import middleware
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder, Job, ServerGeneratedKey
from certificates.issuance.services.failures import MAX_RETRY_AFTER_SECONDS
from certificates.issuance.services.issuer_config import save_issuer
from certificates.issuance.services.job_processor import process_pending, reap_timeouts, retry_failed
from tests import REPO_ROOT
from tests.acme_support import acme_profile, make_acme_issuer
from tests.factories import IssuerFactory, JobFactory, RenewalPolicyFactory
from tests.issuance_helpers import issuable_certificate, split_chain

pytestmark = pytest.mark.django_db(transaction=True)
CELERY_WORKER = [sys.executable, "-m", "celery", "-A", "certctl", "worker", "--pool", "solo"]


# --- a worker killed in the middle of an order -------------------------------------------------------------


class ChallengeGate:
    """Holds the CA's HTTP-01 fetches until released, so the order cannot finish before the worker is killed."""

    def __init__(self) -> None:
        self.fetched = threading.Event()
        self.released = threading.Event()
        self.real_view = middleware.acme_challenge

    def view(self, request, token):
        self.fetched.set()
        self.released.wait(timeout=60)
        return self.real_view(request, token)


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CERTCTL_DEBUG="true",
        CERTCTL_DATA_DIR=str(django_settings.DATA_DIR),
        CERTCTL_ENCRYPTION_KEY=",".join(django_settings.ENCRYPTION_KEYS),
        CERTCTL_KEYGEN_MODE="server",
    )
    return env


def _start_worker(queue: str, log: Path) -> subprocess.Popen:
    """A real `celery worker` process (solo pool) consuming only this test's queue."""
    return subprocess.Popen(
        [*CELERY_WORKER, "--loglevel", "INFO", "-Q", queue],
        cwd=REPO_ROOT,
        env=_worker_env(),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(predicate, what: str, log: Path, seconds: float = 90) -> None:
    deadline = timezone.now() + timedelta(seconds=seconds)
    while not predicate():
        if timezone.now() > deadline:
            pytest.fail(f"the worker did not {what}; its log ends:\n{log.read_text()[-4000:]}")
        threading.Event().wait(0.05)


def _settled(job: Job) -> bool:
    """Completed, or no longer going anywhere on the second attempt."""
    return job.status == JobStatus.COMPLETED or (job.attempts >= 2 and job.status != JobStatus.RUNNING)


def _stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.kill(worker.pid, sig)
    worker.wait(timeout=60)


@pytest.mark.slow
def test_a_worker_killed_mid_order_is_resumed_by_the_next_worker_with_the_same_order(
    pebble, acme_served, monkeypatch, tmp_path
):
    if not (django_settings.REDIS_URL and django_settings.IS_POSTGRES):
        pytest.skip("needs PostgreSQL and Redis (run under scripts/with-services.sh)")
    from certctl.celery import app
    from certificates.issuance.tasks import process_jobs, reap_job_timeouts, retry_failed_jobs

    app.conf.task_always_eager = False
    names = ["resume.certctl-acme.test", "www.resume.certctl-acme.test"]
    issuer = make_acme_issuer(pebble, name="pebble-resume")
    cert = issuable_certificate(issuer, profile=acme_profile(), common_name=names[0], sans=names[1:])
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.PENDING, max_attempts=3)
    gate = ChallengeGate()
    monkeypatch.setattr(middleware, "acme_challenge", gate.view)
    queue, log = f"acme-resume-{uuid.uuid4().hex}", tmp_path / "workers.log"

    first = _start_worker(queue, log)
    try:
        process_jobs.apply_async(queue=queue)
        _wait_for(gate.fetched.is_set, "answer a challenge", log)
        os.kill(first.pid, signal.SIGKILL)  # mid-order: the CA is fetching an answer the worker published
    finally:
        _stop(first, signal.SIGKILL)
        gate.released.set()
    assert first.returncode == -signal.SIGKILL
    placed = AcmeOrder.objects.get(issuer=issuer)
    assert placed.status == "pending"
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING

    second = _start_worker(queue, log)
    try:
        # The dead worker's lease runs out (its start moved back instead of waiting CERTCTL_JOB_RUNNING_LEASE).
        lease = timedelta(seconds=django_settings.JOB_RUNNING_LEASE + 1)
        Job.objects.filter(pk=job.pk).update(started_at=F("started_at") - lease)
        reap_job_timeouts.apply_async(queue=queue)
        _wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.FAILED, "reap the lost job", log)
        retry_interval = timedelta(seconds=cert.renewal_policy.retry_interval_seconds + 1)
        Job.objects.filter(pk=job.pk).update(completed_at=F("completed_at") - retry_interval)
        retry_failed_jobs.apply_async(queue=queue)
        process_jobs.apply_async(queue=queue)
        _wait_for(lambda: _settled(Job.objects.get(pk=job.pk)), "finish the retried job", log)
    finally:
        _stop(second)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == (JobStatus.COMPLETED, 2, "")
    order = AcmeOrder.objects.get(issuer=issuer)  # no second order
    assert (order.pk, order.order_url, order.status) == (placed.pk, placed.order_url, "completed")
    assert order.csr_fingerprint != placed.csr_fingerprint  # finalized with the second attempt's new key
    assert not AcmeHttpChallenge.objects.exists()
    version = CertificateVersion.objects.get(certificate=cert)
    leaf, *chain = split_chain(version.pem_chain)
    chain[-1].verify_directly_issued_by(pebble.roots()[0])
    assert pebble.status_of(leaf)["Status"] == "Valid"
    key = serialization.load_pem_private_key(
        decrypt_bytes(ServerGeneratedKey.objects.get(version=version).encrypted_private_key), None
    )
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert leaf.public_key().public_bytes(*der) == key.public_key().public_bytes(*der)


# --- Retry-After ---------------------------------------------------------------------------------------------


class RateLimitingCA(BaseHTTPRequestHandler):
    """Just enough of an ACME server: a directory, nonces, accounts, and a 429 where `limited` says."""

    limited = "new-order"
    retry_after = "3600"

    def log_message(self, format: str, *args) -> None:
        return None

    def _answer(self, status: int, body: dict | None = None, **headers: str) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Replay-Nonce", uuid.uuid4().hex)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(payload)

    def _limit(self) -> None:
        problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many new orders recently"}
        self._answer(429, problem, Content_Type="application/problem+json", Retry_After=self.retry_after)

    def do_GET(self) -> None:
        base = f"http://{self.headers['Host']}"
        directory = {
            "newNonce": f"{base}/nonce",
            "newAccount": f"{base}/account",
            "newOrder": f"{base}/order",
        }
        self._answer(200, directory, Content_Type="application/json")

    def do_HEAD(self) -> None:
        if self.limited == "new-nonce":
            self._answer(429, Retry_After=self.retry_after)
        else:
            self._answer(200)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/account":
            base = f"http://{self.headers['Host']}"
            self._answer(201, {"status": "valid"}, Content_Type="application/json", Location=f"{base}/acct/1")
        else:
            self._limit()


@pytest.fixture
def rate_limiting_ca() -> Iterator[tuple[str, type[RateLimitingCA]]]:
    handler = type("Handler", (RateLimitingCA,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dir", handler
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("limited", "retry_after", "wait"),
    [
        ("new-order", "3600", 3600),
        ("new-nonce", "900", 900),
        ("new-order", str(30 * 86400), MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_a_rate_limited_job_is_retried_no_sooner_than_the_cas_retry_after(
    rate_limiting_ca, settings, limited, retry_after, wait
):
    directory_url, handler = rate_limiting_ca
    handler.limited, handler.retry_after = limited, retry_after
    settings.KEYGEN_MODE = "server"
    issuer = save_issuer(
        Issuer(),
        {
            "name": "limited-ca",
            "type": "ACME",
            "config": {
                "directory_url": directory_url,
                "agree_tos": True,
                "contact_email": "pki@example.test",
            },
        },
    )
    policy = RenewalPolicyFactory(retry_interval_seconds=60, max_retries=3)
    cert = issuable_certificate(
        issuer, profile=acme_profile(), common_name="limited.example.test", renewal_policy=policy
    )
    now = timezone.now()
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.PENDING, scheduled_at=now)

    result = process_pending(now=now)

    assert result.failed == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "rateLimited" in job.last_error or "HTTP 429" in job.last_error
    assert f"retry after {retry_after} seconds" in job.last_error
    assert job.scheduled_at == now + timedelta(seconds=wait)
    assert retry_failed(now=now + timedelta(seconds=policy.retry_interval_seconds)).retried == []
    assert retry_failed(now=now + timedelta(seconds=wait - 1)).retried == []
    assert retry_failed(now=now + timedelta(seconds=wait)).retried == [job.pk]
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_without_a_retry_after_the_policys_retry_interval_alone_applies(rate_limiting_ca, settings):
    directory_url, handler = rate_limiting_ca
    handler.limited, handler.retry_after = "new-order", ""
    settings.KEYGEN_MODE = "server"
    issuer = save_issuer(
        Issuer(),
        {"name": "ca", "type": "ACME", "config": {"directory_url": directory_url, "agree_tos": True}},
    )
    policy = RenewalPolicyFactory(retry_interval_seconds=60)
    cert = issuable_certificate(
        issuer, profile=acme_profile(), common_name="x.example.test", renewal_policy=policy
    )
    now = timezone.now()
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.PENDING, scheduled_at=now)

    process_pending(now=now)

    assert retry_failed(now=now + timedelta(seconds=59)).retried == []
    assert retry_failed(now=now + timedelta(seconds=60)).retried == [job.pk]


# --- orders nothing will resume --------------------------------------------------------------------------


def _order(issuer, names, *, status="pending", idle=timedelta(hours=1), age=timedelta(hours=1)) -> AcmeOrder:
    order = AcmeOrder.objects.create(
        issuer=issuer,
        csr_fingerprint=uuid.uuid4().hex * 2,
        order_url=f"https://ca.example.test/order/{uuid.uuid4().hex}",
        status=status,
        identifiers=names,
    )
    AcmeHttpChallenge.objects.create(token=uuid.uuid4().hex, key_authorization="k.a", order=order)
    now = timezone.now()
    AcmeOrder.objects.filter(pk=order.pk).update(updated_at=now - idle, created_at=now - age)
    return order


def _job_for(issuer, names, **fields) -> Job:
    cert = issuable_certificate(issuer, common_name=names[0], sans=names[1:])
    return JobFactory(certificate=cert, type="Renewal", **fields)


def test_the_timeout_sweep_closes_orders_no_job_will_resume_and_deletes_their_answers():
    issuer = IssuerFactory(type="ACME")
    spent = _order(issuer, ["spent.example.test"])
    _job_for(issuer, ["spent.example.test"], status=JobStatus.FAILED, attempts=3, max_attempts=3)
    cancelled = _order(issuer, ["cancelled.example.test", "www.cancelled.example.test"])
    _job_for(issuer, ["cancelled.example.test", "www.cancelled.example.test"], status=JobStatus.CANCELLED)
    orphan = _order(issuer, ["nobody.example.test"], status="ready")
    expired = _order(issuer, ["old.example.test"], age=timedelta(days=8))
    _job_for(issuer, ["old.example.test"], status=JobStatus.FAILED, attempts=1, max_attempts=3)
    retried = _order(issuer, ["retry.example.test"])
    _job_for(issuer, ["retry.example.test"], status=JobStatus.FAILED, attempts=1, max_attempts=3)
    awaiting = _order(issuer, ["Agent.Example.test"])
    _job_for(issuer, ["agent.example.test"], status=JobStatus.AWAITING_CSR)
    busy = _order(issuer, ["busy.example.test"], idle=timedelta(seconds=5))  # a worker may be on it
    done = _order(issuer, ["done.example.test"], status="completed")

    result = reap_timeouts(now=timezone.now())

    assert result.acme_orders_abandoned == 4
    statuses = dict(AcmeOrder.objects.values_list("pk", "status"))
    assert {pk for pk, status in statuses.items() if status == "abandoned"} == {
        spent.pk,
        cancelled.pk,
        orphan.pk,
        expired.pk,
    }
    assert (statuses[retried.pk], statuses[awaiting.pk], statuses[busy.pk]) == ("pending",) * 3
    assert AcmeOrder.objects.get(pk=expired.pk).error == "abandoned: past the CA's order lifetime"
    assert AcmeOrder.objects.get(pk=spent.pk).error == "abandoned: no job will resume it"
    answered = set(AcmeHttpChallenge.objects.values_list("order_id", flat=True))
    assert answered == {retried.pk, awaiting.pk, busy.pk}
    assert done.pk not in answered


def test_a_job_that_runs_out_of_attempts_gives_up_its_order_at_the_next_sweep():
    issuer = IssuerFactory(type="ACME")
    order = _order(issuer, ["last.example.test"])
    job = _job_for(issuer, ["last.example.test"], status=JobStatus.RUNNING, attempts=3, max_attempts=3)
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))

    result = reap_timeouts(now=timezone.now())

    assert result.timed_out == [job.pk] and result.acme_orders_abandoned == 1
    assert AcmeOrder.objects.get(pk=order.pk).status == "abandoned"
    assert not AcmeHttpChallenge.objects.exists()
