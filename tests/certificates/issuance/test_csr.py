"""Issuing from a CSR through the service: every allowed key type, the bookkeeping, and a chain that verifies."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from django.db import connection

from audit.models import AuditEvent
from certificates.enums import CertificateStatus, JobStatus
from certificates.issuance.issuers.ca_store import load_ca
from certificates.issuance.models import Job
from certificates.issuance.services.issuance import issue_from_csr
from notifications.models import NotificationEvent
from tests.factories import JobFactory, TargetFactory
from tests.issuance_helpers import (
    KEY_MAKERS,
    issuable_certificate,
    make_csr,
    make_intermediate,
    make_key,
    make_root,
    names_of,
    split_chain,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tier(db):
    root = make_root()
    return root, make_intermediate(root)


@pytest.mark.parametrize("key_kind", sorted(KEY_MAKERS))
def test_each_allowed_key_type_is_issued_and_recorded(two_tier, key_kind):
    _, issuing = two_tier
    cert = issuable_certificate(issuing, sans=["www.example.test"])
    csr_pem, _ = make_csr(names_of(cert), make_key(key_kind))

    version = issue_from_csr(cert, csr_pem, actor="alice")

    leaf = split_chain(version.pem_chain)[0]
    assert version.issuer_id == issuing.pk
    assert version.serial_number == format(leaf.serial_number, "040x")
    assert version.serial_number == version.serial_number.lower() and len(version.serial_number) == 40
    assert 0 < leaf.serial_number < 2**159
    assert version.key_algorithm == key_kind.split("-")[0]
    assert version.csr_pem.strip() == csr_pem.strip()
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
    assert cert.expires_at == version.not_after
    assert cert.last_renewal_at is not None


def test_version_fingerprint_is_sha256_of_leaf_der(two_tier):
    _, issuing = two_tier
    cert = issuable_certificate(issuing)
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    leaf = split_chain(version.pem_chain)[0]
    from cryptography.hazmat.primitives import hashes

    assert version.fingerprint_sha256 == leaf.fingerprint(hashes.SHA256()).hex()


def test_chain_is_leaf_first_up_to_root_and_verifies_with_cryptography(two_tier):
    _, issuing = two_tier
    cert = issuable_certificate(issuing, sans=["api.example.test"])
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")

    leaf, intermediate, root_cert = split_chain(version.pem_chain)
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root_cert)
    assert root_cert.subject == root_cert.issuer
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([root_cert]))
        .time(datetime.now(UTC) + timedelta(minutes=1))
        .build_server_verifier(x509.DNSName("api.example.test"))
    )
    built = verifier.verify(leaf, [intermediate])
    assert built[-1] == root_cert


def test_chain_verifies_with_the_openssl_command(two_tier, tmp_path):
    _, issuing = two_tier
    cert = issuable_certificate(issuing)
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    leaf, intermediate, root_cert = split_chain(version.pem_chain)
    pem = serialization.Encoding.PEM
    (tmp_path / "root.pem").write_bytes(root_cert.public_bytes(pem))
    (tmp_path / "inter.pem").write_bytes(intermediate.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))

    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "-purpose",
            "sslserver",
            "leaf.pem",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "leaf.pem: OK" in result.stdout


def test_leaf_carries_ski_aki_crl_and_ocsp_urls_and_profile_ekus(two_tier, settings):
    settings.PUBLIC_URL = "https://certctl.example.test"
    _, issuing = two_tier
    cert = issuable_certificate(issuing)
    cert.profile.allowed_ekus = ["clientAuth"]
    cert.profile.must_staple = True
    cert.profile.save()
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    leaf, intermediate, _ = split_chain(version.pem_chain)
    ext = leaf.extensions

    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier
        == intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    dp = ext.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    assert dp == f"https://certctl.example.test/.well-known/pki/crl/{issuing.pk}"
    aia = ext.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP]
    assert ocsp == [f"https://certctl.example.test/.well-known/pki/ocsp/{issuing.pk}"]
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert list(ext.get_extension_for_class(x509.TLSFeature).value) == [x509.TLSFeatureType.status_request]
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_validity_is_the_default_capped_by_profile_max_ttl(two_tier, settings):
    settings.CA_DEFAULT_LEAF_VALIDITY_DAYS = 90
    _, issuing = two_tier
    cert = issuable_certificate(issuing)
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    assert version.not_after - version.not_before == timedelta(days=90)

    capped = issuable_certificate(issuing)
    capped.profile.max_ttl_seconds = 7 * 86400
    capped.profile.save()
    version = issue_from_csr(capped, make_csr(names_of(capped))[0], actor="alice")
    assert version.not_after - version.not_before == timedelta(days=7)


def test_validity_never_outlives_the_ca_and_an_expired_ca_does_not_sign(settings):
    from certificates.issuance.services.issuance import IssuerFailed

    settings.CA_DEFAULT_LEAF_VALIDITY_DAYS = 90
    short_ca = make_root("short-ca", validity_days=30)
    cert = issuable_certificate(short_ca)
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    ca_cert = split_chain(version.pem_chain)[-1]
    assert version.not_after == ca_cert.not_valid_after_utc

    later = issuable_certificate(short_ca)
    with pytest.raises(IssuerFailed, match="expired"):
        issue_from_csr(
            later, make_csr(names_of(later))[0], actor="alice", now=datetime.now(UTC) + timedelta(days=31)
        )
    assert not later.versions.exists()


def test_sans_are_the_certificates_names_classified_by_kind(two_tier):
    _, issuing = two_tier
    cert = issuable_certificate(
        issuing,
        sans=["10.0.0.7", "2001:db8::7", "ops@example.test", "alt.example.test", "1.2.3.example.test"],
    )
    csr_pem, _ = make_csr([cert.common_name])  # the CSR may ask for fewer names than the certificate has
    version = issue_from_csr(cert, csr_pem, actor="alice")
    san = (
        split_chain(version.pem_chain)[0]
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert san.get_values_for_type(x509.DNSName) == [
        cert.common_name,
        "alt.example.test",
        "1.2.3.example.test",
    ]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7", "2001:db8::7"]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@example.test"]


@pytest.mark.parametrize("prefetched", [False, True])
def test_issuance_completes_the_job_and_creates_deployment_jobs_per_target(two_tier, prefetched):
    _, issuing = two_tier
    cert = issuable_certificate(issuing)
    targets = [TargetFactory(), TargetFactory()]
    retired = TargetFactory()
    retired.retired_at = datetime.now(UTC)
    retired.save()
    disabled = TargetFactory(enabled=False)
    cert.targets.set([*targets, retired, disabled])
    if prefetched:
        cert = type(cert).objects.prefetch_related("targets").get(pk=cert.pk)
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)

    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="agent-1", actor_type="Agent", job=job)

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 1
    assert job.started_at is not None and job.completed_at is not None
    deployments = Job.objects.filter(certificate=cert, type="Deployment")
    assert {(d.target_id, d.agent_id, d.status) for d in deployments} == {
        (t.pk, t.agent_id, JobStatus.PENDING) for t in targets
    }


def test_issuance_queues_renewal_success_and_audits(two_tier):
    _, issuing = two_tier
    cert = issuable_certificate(issuing)
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")

    note = NotificationEvent.objects.get(certificate=cert)
    assert note.type == "RenewalSuccess"
    assert note.recipient == cert.owner.email
    assert version.serial_number in note.message
    event = AuditEvent.objects.get(action="certificate_issued", resource_id=cert.pk)
    assert event.actor == "alice"
    assert event.details["serial"] == version.serial_number


def test_ca_private_key_is_encrypted_in_the_database(two_tier):
    root, issuing = two_tier
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_config, config::text FROM certificates_issuer WHERE id IN (%s, %s)",
            [root.pk, issuing.pk],
        )
        rows = cursor.fetchall()
    assert len(rows) == 2
    key_bodies = [
        load_ca(ca)
        .private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
        .splitlines()[1]
        for ca in (root, issuing)
    ]
    for encrypted, public in rows:
        assert encrypted
        assert "PRIVATE KEY" not in encrypted
        assert not any(body in encrypted or body in public for body in key_bodies)  # not even the base64
        assert "PRIVATE KEY" not in public
        assert "BEGIN CERTIFICATE" in public
