"""Issuing from a real ACME CA (pebble): HTTP-01 answered by certctl, the chain, revocation at the CA."""

from __future__ import annotations

import pytest
from cryptography import x509

from audit.models import AuditEvent
from certificates.enums import CertificateStatus, JobStatus
from certificates.issuance.issuers.registry import backend_for
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder, Job
from tests.acme_support import NAMES, acme_profile, make_acme_issuer
from tests.factories import JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, split_chain

pytestmark = pytest.mark.django_db(transaction=True)


def _issue_through_the_api(issuer, client):
    cert = issuable_certificate(issuer, profile=acme_profile(), common_name=NAMES[0], sans=NAMES[1:])
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)
    csr_pem, _key = make_csr(NAMES)
    response = client.post(f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": csr_pem}, format="json")
    assert response.status_code == 201, response.json()
    return cert, job, response.json()


def test_a_certificate_for_two_names_is_issued_by_pebble_over_http01(pebble, acme_served, client_with_key):
    issuer = make_acme_issuer(pebble)
    cert, job, version = _issue_through_the_api(issuer, client_with_key)

    chain = split_chain(version["pem_chain"])
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(NAMES)
    root = pebble.roots()[0]
    leaf.verify_directly_issued_by(chain[1])
    chain[-1].verify_directly_issued_by(root)
    assert version["serial_number"] == format(leaf.serial_number, "040x")

    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert AuditEvent.objects.filter(action="certificate_issued", resource_id=cert.pk).exists()
    order = AcmeOrder.objects.get(issuer=issuer)
    assert order.status == "completed"
    assert sorted(order.identifiers) == sorted(NAMES)
    assert {a["challenge_status"] for a in order.authorizations} <= {"processing", "valid", "pending"}
    assert not AcmeHttpChallenge.objects.exists()


def test_revoking_at_the_ca_sends_the_reason_code(pebble, acme_served, client_with_key):
    issuer = make_acme_issuer(pebble)
    _cert, _job, version = _issue_through_the_api(issuer, client_with_key)
    leaf = split_chain(version["pem_chain"])[0]
    assert pebble.status_of(leaf)["Status"] == "Valid"

    backend_for(issuer).revoke(version["serial_number"], "keyCompromise")

    status = pebble.status_of(leaf)
    assert status["Status"] == "Revoked"
    assert status["Reason"] == 1


def test_the_account_key_is_made_once_kept_encrypted_and_reused(pebble, acme_served, client_with_key):
    issuer = make_acme_issuer(pebble)
    assert backend_for(issuer).test().ok
    issuer.refresh_from_db()
    stored = issuer.encrypted_config
    assert "PRIVATE KEY" not in stored and "PRIVATE KEY" not in str(issuer.config)

    _issue_through_the_api(issuer, client_with_key)

    issuer.refresh_from_db()
    assert issuer.encrypted_config == stored


def test_the_challenge_view_serves_a_pending_answer_and_404s_otherwise(pebble, acme_served, client):
    issuer = make_acme_issuer(pebble)
    order = AcmeOrder.objects.create(
        issuer=issuer, csr_fingerprint="0" * 64, order_url="https://ca/o/1", status="pending"
    )
    AcmeHttpChallenge.objects.create(token="tok-1", key_authorization="tok-1.thumb", order=order)

    answer = client.get("/.well-known/acme-challenge/tok-1", HTTP_HOST="www.certctl-acme.test")
    missing = client.get("/.well-known/acme-challenge/tok-2", HTTP_HOST="www.certctl-acme.test")

    assert answer.status_code == 200 and answer.content == b"tok-1.thumb"
    assert missing.status_code == 404


def test_challenges_are_answered_for_any_host_but_other_paths_keep_the_host_check(pebble, settings, client):
    """A CA fetches with the certificate's name as Host; only the challenge path skips ALLOWED_HOSTS."""
    settings.ALLOWED_HOSTS = ["certctl.internal.test"]
    issuer = make_acme_issuer(pebble)
    order = AcmeOrder.objects.create(
        issuer=issuer, csr_fingerprint="1" * 64, order_url="https://ca/o/2", status="pending"
    )
    AcmeHttpChallenge.objects.create(token="tok-9", key_authorization="tok-9.thumb", order=order)

    answer = client.get("/.well-known/acme-challenge/tok-9", HTTP_HOST="shop.customer.test")
    nested = client.get("/.well-known/acme-challenge/tok-9/x", HTTP_HOST="shop.customer.test")
    other = client.get("/health", HTTP_HOST="shop.customer.test")

    assert answer.status_code == 200 and answer.content == b"tok-9.thumb"
    assert nested.status_code == 400  # not a challenge token: the normal path, which checks the Host
    assert other.status_code == 400
