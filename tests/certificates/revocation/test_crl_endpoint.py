"""GET /.well-known/pki/crl/{issuer_id}: a signed DER v2 CRL that openssl and cryptography accept."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from cryptography import x509
from django.db import connection
from django.utils import timezone

from certificates.revocation.models import CertificateRevocation, CRLCache
from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services.revoke import revoke_certificate
from tests.factories import IssuerFactory, ProfileFactory
from tests.revocation_support import issue_leaf, make_local_ca, openssl_crl, openssl_verifies

pytestmark = pytest.mark.django_db


@pytest.fixture
def ca():
    return make_local_ca()


def get_crl(client, issuer_id, **extra):
    return client.get(f"/.well-known/pki/crl/{issuer_id}", **extra)


def revoked_leaves(ca, reasons):
    leaves = []
    for reason in reasons:
        cert, _, leaf = issue_leaf(ca)
        revoke_certificate(cert.id, reason, actor="tester")
        leaves.append((leaf, reason))
    return leaves


def test_crl_is_signed_der_v2_with_reasons_number_and_aki(client, ca, settings):
    leaves = revoked_leaves(ca, ["keyCompromise", "superseded", "unspecified", "privilegeWithdrawn"])
    response = get_crl(client, ca.issuer.id)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(ca.material.certificate.public_key())
    assert crl.issuer == ca.material.certificate.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.material.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert crl.next_update_utc - crl.last_update_utc == timedelta(seconds=settings.CRL_VALIDITY)
    assert len(crl) == 4
    revoked_at = {
        int(serial, 16): at
        for serial, at in CertificateRevocation.objects.filter(issuer=ca.issuer).values_list(
            "serial_number", "revoked_at"
        )
    }
    for leaf, reason in leaves:
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        # The stored moment in UTC, to the second (the database session's time zone must not shift it).
        assert entry.revocation_date_utc == revoked_at[leaf.serial_number].replace(microsecond=0)
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert flag.name == {"keyCompromise": "key_compromise", "superseded": "superseded",
                             "unspecified": "unspecified", "privilegeWithdrawn": "privilege_withdrawn"}[reason]  # fmt: skip


def test_openssl_verifies_the_crl_and_lists_serials_with_reasons(client, ca, tmp_path):
    leaves = revoked_leaves(ca, ["keyCompromise", "cessationOfOperation"])
    out = openssl_crl(tmp_path, get_crl(client, ca.issuer.id).content, ca, "-text")
    assert out.returncode == 0, out.stderr
    assert "verify OK" in out.stderr + out.stdout
    text = out.stdout
    assert "Version 2" in text
    for leaf, _ in leaves:
        assert format(leaf.serial_number, "X").zfill(2 * ((leaf.serial_number.bit_length() + 7) // 8)) in text
    assert "Key Compromise" in text
    assert "Cessation Of Operation" in text
    assert "X509v3 CRL Number" in text
    assert "X509v3 Authority Key Identifier" in text


def test_openssl_verifies_an_intermediate_ca_crl(client, tmp_path):
    ca = make_local_ca("Test Issuing CA", intermediate=True)
    revoked_leaves(ca, ["affiliationChanged"])
    assert openssl_verifies(tmp_path, get_crl(client, ca.issuer.id).content, ca)


def test_pem_format(client, ca):
    response = get_crl(client, ca.issuer.id, QUERY_STRING="format=pem")
    assert response.status_code == 200
    assert response.content.startswith(b"-----BEGIN X509 CRL-----")
    x509.load_pem_x509_crl(response.content)


def test_etag_and_if_none_match_give_304_and_cache_control_runs_to_next_update(client, ca, settings):
    first = get_crl(client, ca.issuer.id)
    etag = first["ETag"]
    assert etag.startswith('W/"') and len(etag) == 36
    max_age = int(first["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert settings.CRL_VALIDITY - 5 <= max_age <= settings.CRL_VALIDITY
    assert "public" in first["Cache-Control"]
    again = get_crl(client, ca.issuer.id, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert get_crl(client, ca.issuer.id, HTTP_IF_NONE_MATCH='W/"other"').status_code == 200


def test_a_fresh_crl_is_served_without_signing_again(client, ca):
    first = get_crl(client, ca.issuer.id).content
    second = get_crl(client, ca.issuer.id).content
    assert first == second
    assert CRLCache.objects.get(issuer=ca.issuer).crl_number == 1


def test_a_stale_crl_is_regenerated_with_a_higher_number(client, ca, settings):
    get_crl(client, ca.issuer.id)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.CRL_VALIDITY + 60)):
        crl = x509.load_der_x509_crl(get_crl(client, ca.issuer.id).content)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


def test_crl_numbers_increase_on_every_regeneration(ca):
    numbers = [crl_cache.regenerate(ca.issuer.id).crl_number for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_short_lived_certificates_stay_off_the_crl(client, ca):
    short = ProfileFactory(allow_short_lived=True, max_ttl_seconds=600)
    cert, _, short_leaf = issue_leaf(ca, profile=short)
    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    (normal_leaf, _), = revoked_leaves(ca, ["keyCompromise"])  # fmt: skip
    crl = x509.load_der_x509_crl(get_crl(client, ca.issuer.id).content)
    assert crl.get_revoked_certificate_by_serial_number(short_leaf.serial_number) is None
    assert crl.get_revoked_certificate_by_serial_number(normal_leaf.serial_number) is not None


def test_unknown_issuer_is_404_and_non_local_issuer_is_501(client):
    response = get_crl(client, "issuer-nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    acme = IssuerFactory(type="ACME")
    assert get_crl(client, acme.id).status_code == 501


def test_an_issuer_id_with_a_nul_character_is_404_not_500(client):
    response = client.get("/.well-known/pki/crl/issuer-x%00y")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_bad_format_is_400(client, ca):
    assert get_crl(client, ca.issuer.id, QUERY_STRING="format=xml").status_code == 400


def test_beat_task_resigns_every_local_ca(ca):
    from certificates.revocation.tasks import regenerate_all_crls

    other = make_local_ca("Second CA")
    IssuerFactory(type="ACME")
    regenerate_all_crls.delay()
    assert set(CRLCache.objects.values_list("issuer_id", "crl_number")) == {
        (ca.issuer.id, 1),
        (other.issuer.id, 1),
    }


def test_regeneration_queued_by_a_revocation_is_skipped_when_already_covered(ca):
    before = timezone.now()
    crl_cache.regenerate(ca.issuer.id)
    crl_cache.regenerate_after_revocation(ca.issuer.id, before)
    assert CRLCache.objects.get(issuer=ca.issuer).crl_number == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_a_stale_crl_sign_one_crl():
    ca = make_local_ca()
    barrier = threading.Barrier(4)
    numbers, errors = [], []

    def fetch():
        try:
            barrier.wait()
            numbers.append(crl_cache.current_crl(ca.issuer.id).crl_number)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert numbers == [1, 1, 1, 1]
    assert CRLCache.objects.get(issuer=ca.issuer).crl_number == 1


def test_crl_and_responder_rotation_are_scheduled(settings):
    from certctl.schedules import periodic_tasks

    tasks = {p.name: p for p in periodic_tasks()}
    assert tasks["crl-generation"].task == "certificates.regenerate_all_crls"
    assert tasks["crl-generation"].every_seconds == settings.CRL_INTERVAL
    assert tasks["ocsp-responder-rotation"].task == "certificates.rotate_ocsp_responders"
