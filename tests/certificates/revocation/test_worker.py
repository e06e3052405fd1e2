"""After a revocation commits, a real Celery worker regenerates the issuer's CRL (the background path)."""

from __future__ import annotations

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from cryptography import x509
from django.db import connections

from certctl.celery import app
from certificates.revocation.models import CRLCache
from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services.revoke import revoke_certificate
from tests.revocation_support import issue_leaf, make_local_ca


def _close_worker_connections(**kwargs) -> None:
    connections.close_all()  # the worker thread's own connection, so the test database can be dropped


@pytest.mark.django_db(transaction=True)
def test_worker_regenerates_the_crl_after_a_revocation():
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs REDIS_URL (run under scripts/with-services.sh)")
    ca = make_local_ca()
    cert, _, leaf = issue_leaf(ca)
    before = crl_cache.regenerate(ca.issuer.id).crl_number

    app.conf.task_always_eager = False  # tests/conftest.py makes tasks eager; this test wants the real path
    app.conf.broker_url = redis_url
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
        ):
            revoke_certificate(cert.id, "keyCompromise", actor="tester")
            deadline = time.monotonic() + 30
            while CRLCache.objects.get(issuer=ca.issuer).crl_number == before:
                assert time.monotonic() < deadline, "the worker did not regenerate the CRL"
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(_close_worker_connections)
    crl = x509.load_der_x509_crl(bytes(CRLCache.objects.get(issuer=ca.issuer).crl_der))
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
