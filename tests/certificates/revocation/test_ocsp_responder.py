"""The OCSP responder: RFC 6960 answers over POST and GET, signed by a delegated responder certificate."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import timedelta

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.utils import timezone

from certctl.kernel import counters
from certificates.revocation.models import OCSPResponder, OCSPResponseCache
from certificates.revocation.services import ocsp_cache, ocsp_responder
from certificates.revocation.services.revoke import revoke_certificate
from tests.factories import IssuerFactory, ProfileFactory
from tests.revocation_support import issue_leaf, make_ca_certificate, make_local_ca

pytestmark = pytest.mark.django_db


@pytest.fixture
def ca():
    return make_local_ca()


def ocsp_request(leaf, ca, nonce: bytes | None = None, algorithm=None) -> bytes:
    algorithm = algorithm or hashes.SHA1()  # noqa: S303 - the CertID hash every OCSP client sends by default
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.material.certificate, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def post(client, issuer_id, der, content_type="application/ocsp-request"):
    response = client.post(f"/.well-known/pki/ocsp/{issuer_id}", data=der, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content)


def assert_signed_by_delegated_responder(response, ca):
    responder = response.certificates[0]
    ca.material.certificate.public_key().verify(
        responder.signature,
        responder.tbs_certificate_bytes,
        ec.ECDSA(responder.signature_hash_algorithm),
    )
    responder.public_key().verify(
        response.signature,
        response.tbs_response_bytes,
        ec.ECDSA(response.signature_hash_algorithm),
    )
    eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.OCSP_SIGNING in eku
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert responder.issuer == ca.material.certificate.subject


def test_issued_certificate_is_good(client, ca, settings):
    _, _, leaf = issue_leaf(ca)
    response = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == leaf.serial_number
    assert response.next_update_utc - response.this_update_utc == timedelta(
        seconds=settings.OCSP_RESPONSE_VALIDITY
    )
    assert_signed_by_delegated_responder(response, ca)


def test_revoked_certificate_is_revoked_with_time_and_reason(client, ca):
    cert, _, leaf = issue_leaf(ca)
    row = revoke_certificate(cert.id, "keyCompromise", actor="tester")
    response = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.key_compromise
    assert abs(response.revocation_time_utc - row.revoked_at) < timedelta(seconds=1)


def test_never_issued_serial_is_unknown(client, ca):
    from cryptography.hazmat.primitives.asymmetric import ec

    stranger = make_ca_certificate(
        "stranger", ec.generate_private_key(ec.SECP256R1()), ca.material.certificate, ca.material.private_key
    )
    response = post(client, ca.issuer.id, ocsp_request(stranger, ca))
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_revoked_short_lived_certificate_answers_good(client, ca):
    cert, _, leaf = issue_leaf(ca, profile=ProfileFactory(allow_short_lived=True, max_ttl_seconds=900))
    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    assert post(client, ca.issuer.id, ocsp_request(leaf, ca)).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_nonce_is_echoed_and_nonce_responses_are_not_cached(client, ca):
    _, _, leaf = issue_leaf(ca)
    raw = client.post(
        f"/.well-known/pki/ocsp/{ca.issuer.id}",
        data=ocsp_request(leaf, ca, nonce=b"0123456789abcdef"),
        content_type="application/ocsp-request",
    )
    assert raw["Cache-Control"] == "no-store"
    response = ocsp.load_der_ocsp_response(raw.content)
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    assert not OCSPResponseCache.objects.exists()


def test_get_with_url_encoded_base64_request(client, ca):
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca, algorithm=hashes.SHA256())
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    response = client.get(f"/.well-known/pki/ocsp/{ca.issuer.id}/{encoded}")
    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(parsed.hash_algorithm, hashes.SHA256)
    assert "max-age=" in response["Cache-Control"]


def test_a_get_request_whose_base64_ends_with_a_slash_is_answered(client, ca):
    """'/' is a base64 character: a request whose base64 ends with one (about 1 in 200) used to lose it to the
    trailing-slash strip and get malformedRequest (a flaky test on CI found it). A URL's own trailing slash after
    the request still works."""
    _, _, leaf = issue_leaf(ca)
    # The nonce is the request's last bytes: its length picks a DER length with no base64 padding, its last byte
    # the last character.
    candidates = (
        ocsp_request(leaf, ca, nonce=bytes(size - 1) + bytes([last]))
        for size in (16, 17, 18)
        for last in range(256)
    )
    text = next(t for t in (base64.b64encode(der).decode() for der in candidates) if t.endswith("/"))
    for suffix in ("", "/"):
        encoded = urllib.parse.quote(text, safe="") + suffix
        response = client.get(f"/.well-known/pki/ocsp/{ca.issuer.id}/{encoded}")
        parsed = ocsp.load_der_ocsp_response(response.content)
        assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, suffix
        assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_garbage_gets_malformed_request(client, ca):
    assert (
        post(client, ca.issuer.id, b"\x30\x03garbage").response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    response = client.get(f"/.well-known/pki/ocsp/{ca.issuer.id}/not*base64")
    assert (
        ocsp.load_der_ocsp_response(response.content).response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def test_unknown_issuer_gets_unauthorized(client, ca):
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca)
    assert post(client, "issuer-nope", der).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    acme = IssuerFactory(type="ACME")
    assert post(client, acme.id, der).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_an_issuer_id_with_a_nul_character_gets_unauthorized_not_500(client, ca):
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca)
    assert post(client, "issuer-x%00y", der).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    response = client.get(f"/.well-known/pki/ocsp/issuer-x%00y/{encoded}")
    assert response.status_code == 200
    assert (
        ocsp.load_der_ocsp_response(response.content).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    )


def test_certificate_of_another_ca_gets_unauthorized(client, ca):
    other = make_local_ca("Other CA")
    _, _, leaf = issue_leaf(other)
    response = post(client, ca.issuer.id, ocsp_request(leaf, other))
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_wrong_content_type_is_415(client, ca):
    response = client.post(f"/.well-known/pki/ocsp/{ca.issuer.id}", data=b"x", content_type="text/plain")
    assert response.status_code == 415


def test_nonce_less_answers_are_cached_until_revocation(client, ca):
    cert, _, leaf = issue_leaf(ca)
    first = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    cached = OCSPResponseCache.objects.get(issuer=ca.issuer)
    assert cached.cert_status == "good"
    second = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    assert second.tbs_response_bytes == first.tbs_response_bytes  # the very same signed answer

    revoke_certificate(cert.id, "superseded", actor="tester")
    assert not OCSPResponseCache.objects.exists()
    assert (
        post(client, ca.issuer.id, ocsp_request(leaf, ca)).certificate_status == ocsp.OCSPCertStatus.REVOKED
    )


def test_cached_answer_expires_at_next_update(client, ca, settings):
    _, _, leaf = issue_leaf(ca)
    first = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.OCSP_RESPONSE_VALIDITY + 1)):
        later = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    assert later.this_update_utc > first.this_update_utc


def test_responses_are_counted_by_status(client, ca):
    ocsp_cache.flush_metrics()  # responses of earlier tests are still buffered in this process
    before = counters.read("certctl_ocsp_responses_total")
    _, _, leaf = issue_leaf(ca)
    post(client, ca.issuer.id, ocsp_request(leaf, ca))
    post(client, ca.issuer.id, ocsp_request(leaf, ca))
    post(client, ca.issuer.id, b"junk")
    ocsp_cache.flush_metrics()
    series = counters.read("certctl_ocsp_responses_total")
    good, malformed = (("status", "good"),), (("status", "malformedRequest"),)
    assert series[good] - before.get(good, 0) == 2
    assert series[malformed] - before.get(malformed, 0) == 1


def test_responder_is_created_once_and_rotated_before_expiry(client, ca, settings):
    _, _, leaf = issue_leaf(ca)
    first = post(client, ca.issuer.id, ocsp_request(leaf, ca, nonce=b"a" * 16)).certificates[0]
    again = post(client, ca.issuer.id, ocsp_request(leaf, ca, nonce=b"b" * 16)).certificates[0]
    assert first.serial_number == again.serial_number
    assert OCSPResponder.objects.count() == 1
    validity = timedelta(seconds=settings.OCSP_RESPONDER_VALIDITY)
    assert abs(first.not_valid_after_utc - first.not_valid_before_utc - validity) < timedelta(minutes=6)

    grace = timedelta(seconds=settings.OCSP_RESPONDER_ROTATION_GRACE)
    with time_machine.travel(first.not_valid_after_utc - grace + timedelta(minutes=1)):
        assert ocsp_responder.rotate_due() == 1
        rotated = post(client, ca.issuer.id, ocsp_request(leaf, ca, nonce=b"c" * 16)).certificates[0]
    assert rotated.serial_number != first.serial_number
    row = OCSPResponder.objects.get(issuer=ca.issuer)
    assert row.rotated_from == format(first.serial_number, "x")
    assert "PRIVATE KEY" not in row.encrypted_key


def test_a_reimported_ca_gets_a_new_responder(client, ca):
    from cryptography.hazmat.primitives.asymmetric import ec as ec_keys

    from certificates.issuance.issuers.ca_store import load_ca, store_ca

    _, _, leaf = issue_leaf(ca)
    first = post(client, ca.issuer.id, ocsp_request(leaf, ca, nonce=b"a" * 16)).certificates[0]
    new_key = ec_keys.generate_private_key(ec_keys.SECP256R1())
    store_ca(ca.issuer, make_ca_certificate("Test Root CA", new_key), new_key)
    ca.issuer.save()
    ca.material = load_ca(ca.issuer)
    _, _, new_leaf = issue_leaf(ca)
    response = post(client, ca.issuer.id, ocsp_request(new_leaf, ca, nonce=b"b" * 16))
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    responder = response.certificates[0]
    assert responder.serial_number != first.serial_number
    responder.verify_directly_issued_by(ca.material.certificate)


def test_a_cached_answer_is_not_served_for_another_cas_certid(client, ca):
    _, _, leaf = issue_leaf(ca)
    assert post(client, ca.issuer.id, ocsp_request(leaf, ca)).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert OCSPResponseCache.objects.filter(issuer=ca.issuer).exists()

    other = make_local_ca("Other CA").material.certificate
    spoofed = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            _sha1(other.subject.public_bytes()),
            x509.SubjectKeyIdentifier.from_public_key(other.public_key()).digest,
            leaf.serial_number,
            hashes.SHA1(),  # noqa: S303
        )
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    assert post(client, ca.issuer.id, spoofed).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    again = post(client, ca.issuer.id, ocsp_request(leaf, ca))
    assert again.certificate_status == ocsp.OCSPCertStatus.GOOD


def _sha1(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - the OCSP CertID hash
    digest.update(data)
    return digest.finalize()


def test_a_source_over_its_per_minute_limit_gets_unauthorized_with_retry_after(client, ca, settings):
    settings.OCSP_RATE_LIMIT_PER_IP_MIN = 3
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca)
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    answers = [post(client, ca.issuer.id, der) for _ in range(2)]
    answers.append(
        ocsp.load_der_ocsp_response(client.get(f"/.well-known/pki/ocsp/{ca.issuer.id}/{encoded}").content)
    )
    assert [a.response_status for a in answers] == [ocsp.OCSPResponseStatus.SUCCESSFUL] * 3

    tripped = client.post(
        f"/.well-known/pki/ocsp/{ca.issuer.id}", data=der, content_type="application/ocsp-request"
    )
    assert tripped.status_code == 200 and tripped["Retry-After"] == "60"
    assert tripped["Content-Type"] == "application/ocsp-response"
    assert (
        ocsp.load_der_ocsp_response(tripped.content).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    )
    # GET counts against the same address; another address is not affected.
    assert client.get(f"/.well-known/pki/ocsp/{ca.issuer.id}/{encoded}")["Retry-After"] == "60"
    other = client.post(
        f"/.well-known/pki/ocsp/{ca.issuer.id}",
        data=der,
        content_type="application/ocsp-request",
        REMOTE_ADDR="192.0.2.7",
    )
    assert ocsp.load_der_ocsp_response(other.content).response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    # X-Forwarded-For is the client's to forge: it does not reset the count.
    forged = client.post(
        f"/.well-known/pki/ocsp/{ca.issuer.id}",
        data=der,
        content_type="application/ocsp-request",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert "Retry-After" in forged


def test_the_limit_window_rolls_over_and_zero_disables_it(client, ca, settings):
    settings.OCSP_RATE_LIMIT_PER_IP_MIN = 1
    _, _, leaf = issue_leaf(ca)
    der = ocsp_request(leaf, ca)

    def send():
        return client.post(
            f"/.well-known/pki/ocsp/{ca.issuer.id}", data=der, content_type="application/ocsp-request"
        )

    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert "Retry-After" not in send()
        assert "Retry-After" in send()
        clock.shift(timedelta(seconds=61))
        assert "Retry-After" not in send()
    settings.OCSP_RATE_LIMIT_PER_IP_MIN = 0
    assert all("Retry-After" not in send() for _ in range(5))
