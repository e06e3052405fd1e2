"""ACME Renewal Information (RFC 9773) against a loopback ARI server: the window stored and shown, the renewal
moment inside it, Retry-After, a shortened window renewing early, and no ARI leaving the policy's window."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from certificates.enums import JobType
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.issuers.acme.renewal_info import cert_id
from certificates.issuance.models import Job
from certificates.issuance.services.issuance import issue_from_csr
from certificates.issuance.services.renewal import run_renewal_check
from certificates.issuance.services.renewal_info import refresh_due
from tests.ari_support import AriServer, Window
from tests.factories import IssuerFactory, RenewalPolicyFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of, split_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def ari():
    server = AriServer()
    yield server
    server.close()


def _acme_certificate(directory_url: str, *, window_days: int = 30):
    """A certificate issued (by a local CA, for its AKI and serial) whose issuer is now an ACME issuer."""
    cert = issuable_certificate(
        make_root(), renewal_policy=RenewalPolicyFactory(renewal_window_days=window_days)
    )
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    acme = IssuerFactory(
        name="acme-ari", type="ACME", config={"directory_url": directory_url, "agree_tos": True}
    )
    ManagedCertificate.objects.filter(pk=cert.pk).update(issuer=acme)
    CertificateVersion.objects.filter(pk=version.pk).update(issuer=acme)
    cert.refresh_from_db()
    return cert, split_chain(version.pem_chain)[0]


def test_the_cert_id_is_the_rfc_9773_example():
    """RFC 9773 4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial
    00:87:65:43:21 -> aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "example")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x87654321)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.AuthorityKeyIdentifier(
                bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4"), None, None
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    assert cert_id(certificate) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_the_suggested_window_is_stored_shown_and_a_moment_inside_it_is_picked(
    ari, client_with_key, admin_client
):
    cert, leaf = _acme_certificate(ari.directory_url)
    now = datetime.now(UTC)
    start, end = now + timedelta(days=40), now + timedelta(days=42)
    ari.state.windows["*"] = Window(start, end, "https://ca.example/incident/1", retry_after=7200)

    result = refresh_due(now=now, rng=random.Random(7))

    assert (result.claimed, result.updated) == (1, 1)
    assert ari.state.asked == [cert_id(leaf)]
    cert.refresh_from_db()
    assert (cert.ari_window_start, cert.ari_window_end) == (
        start.replace(microsecond=0),
        end.replace(microsecond=0),
    )
    assert cert.ari_window_start <= cert.ari_renew_at <= cert.ari_window_end
    assert cert.ari_explanation_url == "https://ca.example/incident/1"
    assert cert.ari_checked_at == now
    assert cert.ari_next_check_at == now + timedelta(seconds=7200)  # the CA's Retry-After
    assert AuditEvent.objects.filter(action="renewal_window_suggested", resource_id=cert.pk).count() == 1

    body = client_with_key.get(f"/api/v1/certificates/{cert.pk}").json()
    assert parse_datetime(body["ari_window_start"]) == cert.ari_window_start
    assert body["ari_renew_at"] is not None and body["ari_explanation_url"] == "https://ca.example/incident/1"
    page = admin_client.get(reverse("admin:certificates_managedcertificate_change", args=[cert.pk])).content
    assert b"Renewal window from the CA (ARI)" in page
    assert b"https://ca.example/incident/1" in page


def test_an_unchanged_window_keeps_its_moment_and_no_check_happens_before_retry_after(ari):
    cert, _leaf = _acme_certificate(ari.directory_url)
    now = datetime.now(UTC)
    ari.state.windows["*"] = Window(now + timedelta(days=40), now + timedelta(days=42), retry_after=3600)
    refresh_due(now=now)
    cert.refresh_from_db()
    picked = cert.ari_renew_at

    assert refresh_due(now=now + timedelta(minutes=59)).claimed == 0
    again = refresh_due(now=now + timedelta(hours=1))

    assert (again.claimed, again.unchanged) == (1, 1)
    cert.refresh_from_db()
    assert cert.ari_renew_at == picked
    assert len(ari.state.asked) == 2


def test_a_window_moved_earlier_by_the_ca_renews_the_certificate_without_an_operator(ari):
    """The mass-revocation case: the policy's window is far away, ARI's is too; then the CA moves the window into
    the past and the next renewal check opens the job."""
    cert, _leaf = _acme_certificate(ari.directory_url, window_days=1)
    now = datetime.now(UTC)
    ari.state.windows["*"] = Window(now + timedelta(days=40), now + timedelta(days=42))
    refresh_due(now=now)
    assert run_renewal_check(now=now).created == 0

    ari.state.windows["*"] = Window(
        now - timedelta(hours=2), now - timedelta(hours=1), "https://ca.example/revoke"
    )
    assert refresh_due(now=now + timedelta(hours=5)).claimed == 0  # six hours without Retry-After
    later = now + timedelta(hours=6)
    assert refresh_due(now=later).updated == 1

    result = run_renewal_check(now=later)

    assert result.created == 1
    job = Job.objects.get(certificate=cert)
    assert job.type == JobType.RENEWAL
    created = AuditEvent.objects.get(action="renewal_job_created", resource_id=cert.pk)
    assert created.details["due_by"] == "ari"
    assert AuditEvent.objects.filter(action="renewal_window_suggested", resource_id=cert.pk).count() == 2


def test_the_ari_moment_replaces_the_policy_window(ari):
    """Inside the policy's window but before the CA's suggested window: no renewal yet."""
    _acme_certificate(ari.directory_url, window_days=365)
    now = datetime.now(UTC)
    ari.state.windows["*"] = Window(now + timedelta(days=10), now + timedelta(days=11))
    refresh_due(now=now)

    assert run_renewal_check(now=now).created == 0
    assert run_renewal_check(now=now + timedelta(days=11, minutes=1)).created == 1


def test_without_renewal_info_in_the_directory_the_policy_window_applies(ari):
    ari.state.offer = False
    cert, _leaf = _acme_certificate(ari.directory_url, window_days=365)
    now = datetime.now(UTC)

    result = refresh_due(now=now)

    assert (result.claimed, result.without_ari) == (1, 1)
    assert ari.state.asked == []
    cert.refresh_from_db()
    assert cert.ari_window_start is None and cert.ari_renew_at is None
    assert cert.ari_next_check_at == now + timedelta(hours=6)
    assert run_renewal_check(now=now).created == 1  # the policy's window
    created = AuditEvent.objects.get(action="renewal_job_created", resource_id=cert.pk)
    assert created.details["due_by"] == "renewal_policy"


def test_a_failing_ari_server_keeps_the_last_window_and_asks_again_in_an_hour(ari):
    cert, _leaf = _acme_certificate(ari.directory_url)
    now = datetime.now(UTC)
    ari.state.windows["*"] = Window(now + timedelta(days=40), now + timedelta(days=42), retry_after=60)
    refresh_due(now=now)
    cert.refresh_from_db()
    kept = (cert.ari_window_start, cert.ari_window_end, cert.ari_renew_at)
    ari.state.windows["*"] = Window(now, now + timedelta(days=1), status=500)

    later = now + timedelta(minutes=2)
    result = refresh_due(now=later)

    assert result.failed == 1
    cert.refresh_from_db()
    assert (cert.ari_window_start, cert.ari_window_end, cert.ari_renew_at) == kept
    assert cert.ari_next_check_at == later + timedelta(hours=1)


def test_a_new_version_clears_the_previous_versions_window():
    cert = issuable_certificate(make_root())
    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    now = datetime.now(UTC)
    ManagedCertificate.objects.filter(pk=cert.pk).update(
        ari_window_start=now,
        ari_window_end=now + timedelta(hours=1),
        ari_renew_at=now,
        ari_checked_at=now,
        ari_next_check_at=now + timedelta(hours=6),
        ari_explanation_url="https://ca.example/x",
    )

    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")

    cert.refresh_from_db()
    assert (cert.ari_window_start, cert.ari_renew_at, cert.ari_next_check_at, cert.ari_explanation_url) == (
        None,
        None,
        None,
        "",
    )


def test_local_ca_certificates_are_never_asked_about():
    cert = issuable_certificate(make_root())
    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")

    assert refresh_due().claimed == 0
