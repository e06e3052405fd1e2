"""Incremental CRLs: each revocation's entry is encoded once and appended; the result equals a full rebuild."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certctl.kernel.x509 import signature_hash
from certificates.issuance.issuers.ca_store import CAMaterial, store_ca
from certificates.revocation.models import CertificateRevocation, CRLCache
from certificates.revocation.pki import REASON_FLAGS
from certificates.revocation.pki.crl import build_crl, encode_entry, entries_of
from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services.revoke import revoke_certificate
from tests.factories import ProfileFactory
from tests.revocation_support import issue_leaf, make_ca_certificate, make_local_ca, openssl_verifies

REASONS = list(REASON_FLAGS)


def content(der: bytes) -> list[tuple[int, datetime, str]]:
    crl = x509.load_der_x509_crl(der)
    return sorted(
        (
            entry.serial_number,
            entry.revocation_date_utc,
            entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name,
        )
        for entry in crl
    )


def crl_number(der: bytes) -> int:
    return x509.load_der_x509_crl(der).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["p256", "p384", "rsa", "ed25519"],
)
def test_spliced_crl_is_byte_for_byte_what_cryptography_builds(key):
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Splice CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2026, 1, 1))
        .not_valid_after(datetime(2036, 1, 1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, signature_hash(key))
    )
    ca = CAMaterial(certificate, key, [])
    rng = random.Random(21)
    revocations = [
        (
            format(rng.getrandbits(rng.choice([1, 7, 8, 9, 64, 159, 160])), "x"),
            datetime(rng.choice([1990, 2026, 2049, 2050, 2100]), 1, 2, 3, 4, 5, 678),
            rng.choice(REASONS),
        )
        for _ in range(500)
    ]
    now = datetime.now(UTC).replace(tzinfo=None)
    ours = x509.load_der_x509_crl(
        build_crl(ca, revocations, crl_number=7, this_update=now, next_update=now + timedelta(days=1))
    )
    reference = x509.CertificateRevocationListBuilder(
        issuer_name=certificate.subject,
        last_update=now,
        next_update=now + timedelta(days=1),
        extensions=[
            x509.Extension(x509.AuthorityKeyIdentifier.oid, False, ca.authority_key_identifier),
            x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(7)),
        ],
        revoked_certificates=[
            x509.RevokedCertificateBuilder(
                int(serial, 16),
                at,
                [x509.Extension(x509.CRLReason.oid, False, x509.CRLReason(REASON_FLAGS[r]))],
            ).build()
            for serial, at, r in revocations
        ],
    ).sign(key, signature_hash(key))
    assert ours.tbs_certlist_bytes == reference.tbs_certlist_bytes
    assert ours.is_signature_valid(key.public_key())
    assert entries_of(ours.public_bytes(serialization.Encoding.DER)) == b"".join(
        encode_entry(*r) for r in revocations
    )


@pytest.mark.django_db
def test_after_many_revocations_the_appended_crl_equals_a_full_rebuild(tmp_path):
    ca = make_local_ca()
    numbers, previous_entries = [], b""
    for round_ in range(4):
        for reason in REASONS[round_ * 2 : round_ * 2 + 2] * 3:
            cert, _, _ = issue_leaf(ca)
            revoke_certificate(cert.id, reason, actor="tester")
        row = crl_cache.regenerate(ca.issuer.id)
        der = bytes(row.crl_der)
        numbers.append(crl_number(der))
        # Appended: the entries of the previous CRL come first, unchanged.
        assert entries_of(der).startswith(previous_entries)
        previous_entries = entries_of(der)
        assert row.revoked_count == 6 * (round_ + 1) == len(x509.load_der_x509_crl(der))
    assert not CertificateRevocation.objects.filter(crl_entry__isnull=True).exists()
    appended = bytes(CRLCache.objects.get(issuer=ca.issuer).crl_der)

    rebuilt = bytes(crl_cache.regenerate(ca.issuer.id, full=True).crl_der)
    assert content(appended) == content(rebuilt)
    assert len(content(appended)) == 24
    flag_names = {name: flag.name for name, flag in REASON_FLAGS.items()}
    stored = CertificateRevocation.objects.values_list("serial_number", "revoked_at", "reason")
    assert content(appended) == sorted(
        (int(serial, 16), at.replace(microsecond=0), flag_names[reason]) for serial, at, reason in stored
    )
    numbers.append(crl_number(rebuilt))
    assert numbers == sorted(set(numbers)) and numbers == list(range(numbers[0], numbers[0] + 5))
    assert openssl_verifies(tmp_path, appended, ca)
    assert openssl_verifies(tmp_path, rebuilt, ca)


@pytest.mark.django_db
def test_a_short_lived_certificates_revocation_is_not_appended(client):
    ca = make_local_ca()
    kept, _, kept_leaf = issue_leaf(ca)
    revoke_certificate(kept.id, "keyCompromise", actor="tester")
    crl_cache.regenerate(ca.issuer.id)
    short, _, _ = issue_leaf(ca, profile=ProfileFactory(allow_short_lived=True, max_ttl_seconds=600))
    revoke_certificate(short.id, "keyCompromise", actor="tester")
    crl = x509.load_der_x509_crl(bytes(crl_cache.regenerate(ca.issuer.id).crl_der))
    assert [entry.serial_number for entry in crl] == [kept_leaf.serial_number]
    assert CRLCache.objects.get(issuer=ca.issuer).revoked_count == 1


@pytest.mark.django_db
def test_a_revocation_the_stored_crl_does_not_account_for_makes_a_full_rebuild():
    ca = make_local_ca()
    certs = []
    for _ in range(3):
        cert, _, _ = issue_leaf(ca)
        revoke_certificate(cert.id, "superseded", actor="tester")
        certs.append(cert)
    crl_cache.regenerate(ca.issuer.id)
    # A row gone behind the service's back (an operator's SQL): the count no longer matches, so no append.
    gone = CertificateRevocation.objects.get(certificate=certs[0])
    CertificateRevocation.objects.filter(pk=gone.pk).delete()
    crl = x509.load_der_x509_crl(bytes(crl_cache.regenerate(ca.issuer.id).crl_der))
    assert int(gone.serial_number, 16) not in {entry.serial_number for entry in crl}
    assert len(crl) == 2


@pytest.mark.django_db
def test_a_crl_of_a_re_imported_ca_is_rebuilt_and_signed_by_the_new_key(tmp_path):
    ca = make_local_ca()
    cert, _, leaf = issue_leaf(ca)
    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    crl_cache.regenerate(ca.issuer.id)
    key = ec.generate_private_key(ec.SECP256R1())
    store_ca(ca.issuer, make_ca_certificate("Test Root CA", key), key)
    ca.issuer.save()
    crl = x509.load_der_x509_crl(bytes(crl_cache.regenerate(ca.issuer.id).crl_der))
    assert crl.is_signature_valid(key.public_key())
    assert [entry.serial_number for entry in crl] == [leaf.serial_number]


@pytest.mark.django_db
def test_the_periodic_regeneration_rebuilds_in_full_and_sees_a_profile_become_short_lived():
    ca = make_local_ca()
    profile = ProfileFactory()
    cert, _, _ = issue_leaf(ca, profile=profile)
    revoke_certificate(cert.id, "superseded", actor="tester")
    assert len(x509.load_der_x509_crl(bytes(crl_cache.regenerate(ca.issuer.id).crl_der))) == 1
    profile.allow_short_lived, profile.max_ttl_seconds = True, 600
    profile.save()
    assert crl_cache.regenerate_all() == 1
    assert len(x509.load_der_x509_crl(bytes(CRLCache.objects.get(issuer=ca.issuer).crl_der))) == 0
