"""Each web process's memory of OCSP answers and statuses (certificates/revocation/services/ocsp_memo.py): answers
without a query, and never an outdated status past the poll interval after a revocation anywhere."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import pytest
from cryptography.x509 import ocsp
from django.core import signals
from django.utils import timezone

from certctl.kernel import counters
from certificates.inventory.models import CertificateVersion
from certificates.revocation.models import CertificateRevocation, OCSPResponseCache
from certificates.revocation.services import ocsp_cache, ocsp_memo
from certificates.revocation.services.revocation_rows import insert_revocations
from certificates.revocation.services.revoke import revoke_certificate
from certificates.revocation.wsgi import with_ocsp_fast_path
from tests.certificates.revocation.test_ocsp_fast_path import _django_must_not_answer, wsgi_call  # noqa: F401
from tests.certificates.revocation.test_ocsp_responder import ocsp_request
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db


@pytest.fixture
def ca():
    return make_local_ca()


def status_of(ca, leaf, *, nonce: bool = False) -> str:
    der = ocsp_request(leaf, ca, secrets.token_bytes(16) if nonce else None)
    result = ocsp_cache.answer(ca.issuer.id, der)
    assert ocsp.load_der_ocsp_response(result.der).certificate_status.name == result.status.upper()
    return result.status


def hide_from_the_database(version) -> None:
    """Change the database behind the memo's back (no revocation, no epoch): what the answer says next tells
    whether it was read again (unknown) or remembered (good)."""
    CertificateVersion.objects.filter(pk=version.pk).update(serial_number="ff" + version.serial_number)
    OCSPResponseCache.objects.all().delete()


@pytest.mark.parametrize("nonce", [False, True], ids=["cached", "nonce"])
def test_a_repeated_question_is_answered_from_memory(ca, nonce):
    _, version, leaf = issue_leaf(ca)
    assert status_of(ca, leaf, nonce=nonce) == "good"
    hide_from_the_database(version)
    assert status_of(ca, leaf, nonce=nonce) == "good"


def test_a_revocation_in_this_process_shows_at_once(ca):
    cert, _, leaf = issue_leaf(ca)
    assert status_of(ca, leaf) == status_of(ca, leaf, nonce=True) == "good"
    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    assert status_of(ca, leaf) == status_of(ca, leaf, nonce=True) == "revoked"


@pytest.mark.parametrize("nonce", [False, True], ids=["cached", "nonce"])
def test_a_revocation_by_another_process_shows_within_the_poll_interval(ca, settings, nonce):
    settings.OCSP_MEMO_SECONDS = 60
    cert, version, leaf = issue_leaf(ca)
    assert status_of(ca, leaf, nonce=nonce) == "good"
    # What another process's revocation leaves here: the row, no cached answer, the moved epoch; this memo as it was.
    insert_revocations(
        [
            CertificateRevocation(
                certificate_id=cert.id,
                issuer_id=ca.issuer.id,
                serial_number=version.serial_number,
                reason="keyCompromise",
                revoked_by="elsewhere",
                revoked_at=timezone.now(),
            )
        ]
    )
    OCSPResponseCache.objects.filter(issuer_id=ca.issuer.id).delete()
    ocsp_memo.status_changed()
    assert status_of(ca, leaf, nonce=nonce) == "good"  # the documented window: remembered until the next poll
    settings.OCSP_MEMO_SECONDS = 0.05
    time.sleep(0.06)
    assert status_of(ca, leaf, nonce=nonce) == "revoked"


def test_unknown_is_remembered_for_one_interval_only(ca, settings):
    settings.OCSP_MEMO_SECONDS = 0.3
    _, version, leaf = issue_leaf(ca)
    CertificateVersion.objects.filter(pk=version.pk).update(serial_number="ff" + version.serial_number)
    assert status_of(ca, leaf, nonce=True) == "unknown"
    CertificateVersion.objects.filter(pk=version.pk).update(serial_number=version.serial_number)
    assert status_of(ca, leaf, nonce=True) == "unknown"  # within the interval
    time.sleep(0.35)
    assert status_of(ca, leaf, nonce=True) == "good"


def test_an_issuer_save_is_forgotten_everywhere(ca):
    _, version, leaf = issue_leaf(ca)
    assert status_of(ca, leaf, nonce=True) == "good"
    before = counters.total(ocsp_memo.EPOCH_COUNTER)
    ca.issuer.save()
    assert (
        counters.total(ocsp_memo.EPOCH_COUNTER) == before + 1
    )  # every other process forgets at its next poll
    hide_from_the_database(version)
    assert status_of(ca, leaf, nonce=True) == "unknown"  # this one forgot at once


@pytest.mark.parametrize("nonce", [False, True], ids=["cached", "nonce"])
def test_zero_turns_the_memo_off(ca, settings, nonce):
    settings.OCSP_MEMO_SECONDS = 0
    _, version, leaf = issue_leaf(ca)
    assert status_of(ca, leaf, nonce=nonce) == "good"
    hide_from_the_database(version)
    assert status_of(ca, leaf, nonce=nonce) == "unknown"


def test_a_read_that_raced_a_forget_is_not_kept():
    token = ocsp_memo.generation()
    ocsp_memo.forget("issuer", {"01"})  # a revocation while the read was under way
    far = timezone.now() + timedelta(hours=1)
    ocsp_memo.keep_answer(token, ("issuer", "01", "sha1"), (b"old", "good", far))
    ocsp_memo.keep_status(token, ("issuer", "01"), ("pem", "good"), unknown=False)
    assert ocsp_memo.answer(("issuer", "01", "sha1"), timezone.now()) is None
    assert ocsp_memo.status(("issuer", "01")) is None
    ocsp_memo.keep_answer(ocsp_memo.generation(), ("issuer", "01", "sha1"), (b"new", "good", far))
    assert ocsp_memo.answer(("issuer", "01", "sha1"), timezone.now())[0] == b"new"


def test_the_fast_path_answers_from_memory_outside_the_request_signals(ca, wsgi_call):  # noqa: F811
    _, _, leaf = issue_leaf(ca)
    app = with_ocsp_fast_path(_django_must_not_answer)
    path = f"/.well-known/pki/ocsp/{ca.issuer.id}"
    started = []

    def count(**kwargs):
        started.append(1)

    signals.request_started.connect(count)
    try:
        first = wsgi_call(app, "POST", path, ocsp_request(leaf, ca))
        assert started == [1]  # read the database: inside the signals
        second = wsgi_call(app, "POST", path, ocsp_request(leaf, ca))
        assert started == [1]  # from memory: no signals, no query
    finally:
        signals.request_started.disconnect(count)
    assert first[0] == second[0] == 200 and first[2] == second[2]
    assert second[1]["Cache-Control"].startswith("public, max-age=")
    assert ocsp.load_der_ocsp_response(second[2]).certificate_status == ocsp.OCSPCertStatus.GOOD
