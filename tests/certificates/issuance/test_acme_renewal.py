"""Renewing ACME certificates through the normal path (renewal check, job processor) against pebble, and with
ARI: pebble behind a loopback front that adds renewalInfo, so the new order's `replaces` is seen on the wire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

from audit.models import AuditEvent
from certificates.enums import CertificateStatus, JobStatus, JobType
from certificates.inventory.models import CertificateVersion
from certificates.issuance.issuers.acme.renewal_info import cert_id
from certificates.issuance.models import Job
from certificates.issuance.services.job_processor import process_pending
from certificates.issuance.services.renewal import run_renewal_check
from certificates.issuance.services.renewal_info import refresh_due
from tests.acme_support import NAMES, acme_profile, make_acme_issuer
from tests.ari_support import AriServer, Window
from tests.factories import JobFactory, RenewalPolicyFactory
from tests.issuance_helpers import issuable_certificate, make_csr, split_chain

pytestmark = pytest.mark.django_db(transaction=True)


def _issued(issuer, client, *, window_days: int = 30):
    """A certificate for NAMES issued by pebble through the API; returns it and its leaf."""
    cert = issuable_certificate(
        issuer,
        profile=acme_profile(),
        common_name=NAMES[0],
        sans=NAMES[1:],
        renewal_policy=RenewalPolicyFactory(renewal_window_days=window_days, max_retries=1),
    )
    JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)
    response = client.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(NAMES)[0]}, format="json"
    )
    assert response.status_code == 201, response.json()
    cert.refresh_from_db()
    return cert, split_chain(response.json()["pem_chain"])[0]


def _renew_through_the_jobs(cert, now):
    """What beat does: the renewal check opens the job, the job processor issues it (server keygen mode)."""
    assert run_renewal_check(now=now).created == 1
    job = Job.objects.get(certificate=cert, type=JobType.RENEWAL)
    result = process_pending(now=now)
    assert result.completed == [job.pk], (result, Job.objects.get(pk=job.pk).last_error)
    return job


def test_an_acme_certificate_for_two_names_is_renewed_by_pebble_through_the_renewal_jobs(
    pebble, acme_served, client_with_key, settings
):
    settings.KEYGEN_MODE = "server"
    issuer = make_acme_issuer(pebble)
    cert, old_leaf = _issued(issuer, client_with_key)

    job = _renew_through_the_jobs(cert, cert.expires_at - timedelta(days=10))

    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
    versions = list(CertificateVersion.objects.filter(certificate=cert).order_by("created_at"))
    assert len(versions) == 2
    chain = split_chain(versions[-1].pem_chain)
    leaf = chain[0]
    assert leaf.serial_number != old_leaf.serial_number
    assert leaf.public_key() != old_leaf.public_key()  # a new server-generated key
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(NAMES)
    leaf.verify_directly_issued_by(chain[1])
    chain[-1].verify_directly_issued_by(pebble.roots()[0])
    assert pebble.status_of(leaf)["Status"] == "Valid"
    assert cert.expires_at == leaf.not_valid_after_utc
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


@pytest.fixture
def pebble_with_ari(pebble):
    front = AriServer(upstream=pebble.directory_url.rsplit("/", 1)[0], upstream_ca_bundle=pebble.ca_bundle)
    yield front
    front.close()


def test_with_ari_the_ca_window_drives_the_renewal_and_the_new_order_replaces_the_old_certificate(
    pebble, pebble_with_ari, acme_served, client_with_key, settings
):
    settings.KEYGEN_MODE = "server"
    front = pebble_with_ari
    issuer = make_acme_issuer(pebble, directory_url=front.directory_url, ca_bundle=front.ca_bundle)
    cert, old_leaf = _issued(issuer, client_with_key, window_days=1)
    assert "replaces" not in front.state.new_orders[0]  # a first issuance replaces nothing
    now = cert.last_renewal_at + timedelta(minutes=1)
    front.state.windows[cert_id(old_leaf)] = Window(now - timedelta(hours=1), now - timedelta(minutes=30))

    assert refresh_due(now=now).updated == 1
    cert.refresh_from_db()
    assert cert.ari_renew_at <= now
    _renew_through_the_jobs(cert, now)

    assert front.state.new_orders[-1]["replaces"] == cert_id(old_leaf)
    assert sorted(i["value"] for i in front.state.new_orders[-1]["identifiers"]) == sorted(NAMES)
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
    assert (
        cert.ari_renew_at is None and cert.ari_window_start is None
    )  # the new version is asked about afresh
    created = AuditEvent.objects.get(action="renewal_job_created", resource_id=cert.pk)
    assert created.details["due_by"] == "ari"
