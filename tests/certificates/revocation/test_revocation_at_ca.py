"""Revoking in certctl reaches the CA that issued the certificate: pebble for ACME, nothing to do for a local CA;
the outcome (or the error, after the retries) is on the revocation row and in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.services.issuance import issue_from_csr
from certificates.revocation.models import CertificateRevocation
from certificates.revocation.services.issuer_revocation import (
    LOST_AFTER,
    MAX_ATTEMPTS,
    RETRY_LADDER,
    requeue_lost,
    revoke_at_issuer,
)
from tests.acme_support import NAMES, acme_profile, make_acme_issuer
from tests.factories import IssuerFactory, JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of, split_chain

pytestmark = pytest.mark.django_db(transaction=True)


def _certificate_of(issuer_config: dict):
    """An issued certificate whose issuer is an ACME issuer with `issuer_config` (no CA contacted to issue it)."""
    cert = issuable_certificate(make_root())
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    acme = IssuerFactory(name="acme-down", type="ACME", config=issuer_config)
    ManagedCertificate.objects.filter(pk=cert.pk).update(issuer=acme)
    CertificateVersion.objects.filter(pk=version.pk).update(issuer=acme)
    cert.refresh_from_db()
    version.refresh_from_db()
    return cert, version


def test_revoking_an_acme_certificate_through_the_api_revokes_it_at_pebble_with_the_reason(
    pebble, acme_served, client_with_key, admin_client
):
    issuer = make_acme_issuer(pebble)
    cert = issuable_certificate(issuer, profile=acme_profile(), common_name=NAMES[0], sans=NAMES[1:])
    JobFactory(certificate=cert, type="Issuance", status="AwaitingCSR")
    issued = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(NAMES)[0]}, format="json"
    )
    assert issued.status_code == 201, issued.json()
    leaf = split_chain(issued.json()["pem_chain"])[0]
    assert pebble.status_of(leaf)["Status"] == "Valid"

    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/revoke", {"reason": "keyCompromise"}, format="json"
    )

    assert response.status_code == 200, response.json()
    status = pebble.status_of(leaf)
    assert (status["Status"], status["Reason"]) == ("Revoked", 1)
    row = CertificateRevocation.objects.get(certificate=cert)
    assert (row.issuer_notified, row.issuer_attempts, row.issuer_error) == (True, 1, "")
    assert row.issuer_notified_at is not None
    told = AuditEvent.objects.get(action="certificate_revoked_at_issuer", resource_id=cert.pk)
    assert told.details["serial"] == row.serial_number and told.details["reason"] == "keyCompromise"
    page = admin_client.get(reverse("admin:certificates_managedcertificate_change", args=[cert.pk])).content
    assert b"revoked at the CA" in page

    # Asking again (a duplicate task, an operator's retry) is a success: the CA already has it.
    CertificateRevocation.objects.filter(pk=row.pk).update(issuer_notified=False)
    assert revoke_at_issuer(issuer.pk, row.serial_number).status == "notified"


def test_a_local_ca_revocation_is_notified_at_once_and_calls_no_ca(client_with_key):
    cert = issuable_certificate(make_root())
    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")

    client_with_key.post(f"/api/v1/certificates/{cert.pk}/revoke", {"reason": "superseded"}, format="json")

    row = CertificateRevocation.objects.get(certificate=cert)
    assert (row.issuer_notified, row.issuer_attempts) == (True, 0)
    assert not AuditEvent.objects.filter(
        action__in=["certificate_revoked_at_issuer", "issuer_revocation_failed"]
    )


def test_an_unreachable_ca_leaves_the_error_on_the_row_and_the_page(client_with_key, admin_client):
    cert, _version = _certificate_of({"directory_url": "http://127.0.0.1:9/dir", "agree_tos": True})

    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/revoke", {"reason": "keyCompromise"}, format="json"
    )

    assert response.status_code == 200  # certctl's revocation stands whatever the CA says
    row = CertificateRevocation.objects.get(certificate=cert)
    assert (row.issuer_notified, row.issuer_attempts) == (False, 1)  # a worker retries it later
    assert "cannot reach the ACME server at 127.0.0.1:9" in row.issuer_error
    page = admin_client.get(reverse("admin:certificates_managedcertificate_change", args=[cert.pk])).content
    assert b"not revoked at the CA yet (1 attempt): ACME directory fetch failed: cannot reach" in page


def test_a_transient_failure_asks_for_a_retry_and_a_permanent_one_does_not():
    cert, version = _certificate_of({"directory_url": "http://127.0.0.1:9/dir", "agree_tos": True})
    row = CertificateRevocation.objects.create(
        certificate=cert,
        issuer_id=version.issuer_id,
        serial_number=version.serial_number,
        reason="keyCompromise",
        revoked_by="alice",
        revoked_at=version.created_at,
    )

    first = revoke_at_issuer(row.issuer_id, row.serial_number, attempt=0)

    assert (first.status, first.retry_in) == ("retrying", RETRY_LADDER[0])
    row.refresh_from_db()
    assert (row.issuer_notified, row.issuer_attempts) == (False, 1)
    assert not AuditEvent.objects.filter(action="issuer_revocation_failed").exists()
    assert revoke_at_issuer(row.issuer_id, row.serial_number, attempt=3).retry_in == RETRY_LADDER[3]

    last = revoke_at_issuer(row.issuer_id, row.serial_number, attempt=MAX_ATTEMPTS - 1)

    assert (last.status, last.retry_in) == ("failed", None)
    failed = AuditEvent.objects.get(action="issuer_revocation_failed", resource_id=cert.pk)
    assert failed.details["attempts"] == MAX_ATTEMPTS and failed.details["serial"] == version.serial_number
    assert "cannot reach" in failed.details["error"]

    # A misconfigured issuer (no agree_tos) is permanent: no retry, recorded and audited at once.
    row.issuer.config = {"directory_url": "http://127.0.0.1:9/dir"}
    row.issuer.save(update_fields=["config"])
    second = revoke_at_issuer(row.issuer_id, row.serial_number, attempt=0)

    assert (second.status, second.retry_in) == ("failed", None)
    row.refresh_from_db()
    assert row.issuer_attempts == 4 and "misconfigured" in row.issuer_error
    assert AuditEvent.objects.filter(action="issuer_revocation_failed", resource_id=cert.pk).count() == 2


def test_a_revocation_whose_task_was_lost_is_queued_again_by_the_sweep():
    """Broker down at commit, or a worker that died first: nothing attempted after LOST_AFTER means lost."""
    cert, version = _certificate_of({"directory_url": "http://127.0.0.1:9/dir", "agree_tos": True})
    now = timezone.now()

    def revocation(serial_suffix: str, revoked_at, attempts: int = 0) -> CertificateRevocation:
        return CertificateRevocation.objects.create(
            certificate=cert,
            issuer_id=version.issuer_id,
            serial_number=f"{version.serial_number[:-2]}{serial_suffix}",
            reason="keyCompromise",
            revoked_by="alice",
            revoked_at=revoked_at,
            issuer_attempts=attempts,
        )

    lost = revocation("a1", now - LOST_AFTER - timedelta(minutes=1))
    recent = revocation("a2", now - timedelta(minutes=1))  # its task may still be on its way
    tried = revocation("a3", now - timedelta(hours=2), attempts=1)  # the task's own retries own it

    assert requeue_lost(now) == 1  # eager: the queued task runs now and meets the unreachable CA

    attempts = dict(CertificateRevocation.objects.values_list("pk", "issuer_attempts"))
    assert (attempts[lost.pk], attempts[recent.pk], attempts[tried.pk]) == (1, 0, 1)
    assert requeue_lost(now) == 0  # attempted now: no longer lost
