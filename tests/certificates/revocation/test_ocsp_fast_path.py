"""The OCSP fast path: a prepared signer writing what cryptography's builder writes, and the WSGI front that
answers OCSP requests without Django's middleware, with the views' semantics."""

from __future__ import annotations

import base64
import io
import random
import secrets
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from certificates.revocation.pki import REASON_FLAGS
from certificates.revocation.pki.ocsp import Answer, ParsedRequest, build_response
from certificates.revocation.pki.ocsp_signer import PreparedSigner
from certificates.revocation.pki.rate_limit import limiter
from certificates.revocation.services.revoke import revoke_certificate
from certificates.revocation.wsgi import with_ocsp_fast_path
from tests.certificates.revocation.test_ocsp_responder import (
    assert_signed_by_delegated_responder,
    ocsp_request,
)
from tests.factories import ProfileFactory
from tests.revocation_support import issue_leaf, make_ca_certificate, make_local_ca

DIGEST_SIZES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}


def test_the_prepared_signer_writes_what_cryptographys_builder_writes():
    key = ec.generate_private_key(ec.SECP256R1())
    responder = make_ca_certificate("Responder", key)
    signer = PreparedSigner(responder, key)
    rng = random.Random(21)
    moment = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):  # cryptography writes producedAt as now
        for _ in range(200):
            algorithm = rng.choice(sorted(DIGEST_SIZES))
            size = DIGEST_SIZES[algorithm]
            request = ParsedRequest(
                rng.getrandbits(rng.choice([1, 8, 63, 64, 159, 160])),
                algorithm,
                secrets.token_bytes(size),
                secrets.token_bytes(size),
                rng.choice([None, secrets.token_bytes(rng.choice([1, 16, 32]))]),
            )
            status = rng.choice(["good", "revoked", "unknown"])
            answer = Answer(status)
            if status == "revoked":
                answer = Answer(
                    status, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), rng.choice(list(REASON_FLAGS))
                )
            dates = {"this_update": moment, "next_update": moment + timedelta(hours=1)}
            reference = ocsp.load_der_ocsp_response(
                build_response(request, answer, responder_cert=responder, responder_key=key, **dates)
            )
            ours = ocsp.load_der_ocsp_response(signer.response(request, answer, **dates))
            assert ours.tbs_response_bytes == reference.tbs_response_bytes
            assert ours.certificates == [responder]
            key.public_key().verify(ours.signature, ours.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))


def _django_must_not_answer(environ, start_response):
    raise AssertionError(f"Django was asked for {environ['REQUEST_METHOD']} {environ['PATH_INFO']}")


@pytest.fixture
def wsgi_call():
    """Call a WSGI application in this thread (what gunicorn does), sharing the test's database connection:
    like Django's test client, keep close_old_connections off the request signals meanwhile."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    def call(application, method, path, body=b"", content_type="application/ocsp-request", **extra):
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": urllib.parse.unquote(path), "SCRIPT_NAME": "",
            "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, **extra,
        }  # fmt: skip
        status, headers = [], []
        chunks = application(environ, lambda s, h, exc_info=None: (status.append(s), headers.extend(h)))
        return int(status[0].split()[0]), dict(headers), b"".join(chunks)

    yield call
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_the_fast_path_answers_good_revoked_and_unknown_with_the_nonce_echoed(wsgi_call):
    ca = make_local_ca()
    _, _, good = issue_leaf(ca)
    revoked_cert, _, revoked = issue_leaf(ca)
    revoke_certificate(revoked_cert.id, "keyCompromise", actor="tester")
    short_cert, _, short = issue_leaf(ca, profile=ProfileFactory(allow_short_lived=True, max_ttl_seconds=600))
    revoke_certificate(short_cert.id, "keyCompromise", actor="tester")
    stranger = make_local_ca("Other CA")
    _, _, unknown = issue_leaf(stranger)
    app = with_ocsp_fast_path(_django_must_not_answer)
    path = f"/.well-known/pki/ocsp/{ca.issuer.id}"

    for leaf, expected in ((good, "GOOD"), (revoked, "REVOKED"), (short, "GOOD")):
        nonce = secrets.token_bytes(16)
        status, headers, body = wsgi_call(app, "POST", path, ocsp_request(leaf, ca, nonce))
        assert status == 200 and headers["Content-Type"] == "application/ocsp-response"
        assert headers["Cache-Control"] == "no-store"  # a nonced answer is for one client only
        response = ocsp.load_der_ocsp_response(body)
        assert response.certificate_status.name == expected
        assert response.serial_number == leaf.serial_number
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
        assert_signed_by_delegated_responder(response, ca)
    revoked_answer = ocsp.load_der_ocsp_response(wsgi_call(app, "POST", path, ocsp_request(revoked, ca))[2])
    assert revoked_answer.revocation_reason == x509.ReasonFlags.key_compromise

    # A serial this CA never issued (same CertID issuer hashes): unknown.
    fake = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *_issuer_hashes(ca),
        x509.random_serial_number(),
        hashes.SHA1(),  # noqa: S303
    )
    body = wsgi_call(app, "POST", path, fake.build().public_bytes(_der()))[2]
    assert ocsp.load_der_ocsp_response(body).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    # Another CA's certificate: this responder is not authoritative.
    body = wsgi_call(app, "POST", path, ocsp_request(unknown, stranger))[2]
    assert ocsp.load_der_ocsp_response(body).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_a_cached_answer_is_the_same_bytes_through_django_and_the_fast_path(wsgi_call):
    ca = make_local_ca()
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca)
    path = f"/.well-known/pki/ocsp/{ca.issuer.id}"
    status, django_headers, through_django = wsgi_call(WSGIHandler(), "POST", path, der)
    assert status == 200
    fast = with_ocsp_fast_path(_django_must_not_answer)
    _, headers, posted = wsgi_call(fast, "POST", path, der)
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    _, _, got = wsgi_call(fast, "GET", f"{path}/{encoded}", content_type="")
    assert posted == through_django == got
    assert headers["Cache-Control"].startswith("public, max-age=")
    assert headers["Cache-Control"].split(",")[0] == django_headers["Cache-Control"].split(",")[0]


@pytest.mark.django_db
def test_what_the_fast_path_does_not_take_is_answered_by_django(wsgi_call, settings):
    ca = make_local_ca()
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca)
    path = f"/.well-known/pki/ocsp/{ca.issuer.id}"
    app = with_ocsp_fast_path(WSGIHandler())
    assert wsgi_call(app, "POST", path, der, content_type="text/plain")[0] == 415
    assert wsgi_call(app, "PUT", path, der)[0] == 405
    assert wsgi_call(app, "POST", path, der, HTTP_HOST="evil.example")[0] == 400
    assert wsgi_call(app, "GET", f"/.well-known/pki/crl/{ca.issuer.id}", content_type="")[0] == 200
    # The per-address limit holds on the fast path too (counting from zero: the 415 above counted).
    settings.OCSP_RATE_LIMIT_PER_IP_MIN = 1
    limiter.reset()
    fast = with_ocsp_fast_path(_django_must_not_answer)
    assert (
        ocsp.load_der_ocsp_response(wsgi_call(fast, "POST", path, der)[2]).response_status.name
        == "SUCCESSFUL"
    )
    _, headers, body = wsgi_call(fast, "POST", path, der)
    assert headers["Retry-After"] == "60"
    assert ocsp.load_der_ocsp_response(body).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def _issuer_hashes(ca):
    import hashlib

    name_hash = hashlib.sha1(ca.material.certificate.subject.public_bytes()).digest()  # noqa: S324
    return name_hash, x509.SubjectKeyIdentifier.from_public_key(ca.material.certificate.public_key()).digest


def _der():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER
