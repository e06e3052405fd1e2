"""Shared helpers of the revocation tests: a local CA built with `cryptography` and leaves issued from it.

The issuance stream builds the real local CA in parallel; these helpers only need `ca_store.store_ca` and
CertificateVersion rows, which are the contract between the two.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certificates.inventory.models import CertificateVersion, Issuer, ManagedCertificate
from certificates.issuance.issuers.ca_store import CAMaterial, load_ca, store_ca
from tests.factories import CertificateFactory, IssuerFactory


@dataclass
class LocalCA:
    issuer: Issuer
    material: CAMaterial

    @property
    def cert_pem(self) -> bytes:
        return self.material.certificate.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_certificate(cn: str, key, issuer_cert=None, issuer_key=None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_local_ca(name: str = "Test Root CA", intermediate: bool = False) -> LocalCA:
    """An issuer holding a root CA (or an intermediate under a root) in the ca_store layout."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = make_ca_certificate(name, root_key)
    issuer = IssuerFactory(name=name.lower().replace(" ", "-"))
    if intermediate:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = make_ca_certificate(f"{name} Issuing", key, root, root_key)
        store_ca(issuer, cert, key, [root])
    else:
        store_ca(issuer, root, root_key)
    issuer.save()
    return LocalCA(issuer=issuer, material=load_ca(issuer))


def issue_leaf(ca: LocalCA, cert: ManagedCertificate | None = None, **cert_fields):
    """A leaf signed by the CA and its CertificateVersion (serial stored as 40 lower-case hex digits)."""
    cert = cert or CertificateFactory(issuer=ca.issuer, **cert_fields)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(cert.common_name))
        .issuer_name(ca.material.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cert.common_name)]), critical=False)
        .sign(ca.material.private_key, hashes.SHA256())
    )
    pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    version = CertificateVersion.objects.create(
        certificate=cert,
        issuer=ca.issuer,
        serial_number=format(leaf.serial_number, "040x"),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        pem_chain=pem + ca.material.chain_pem,
        key_algorithm="ECDSA",
        key_size=256,
    )
    return cert, version, leaf


def openssl_crl(tmp_path, der: bytes, ca: LocalCA, *options: str) -> subprocess.CompletedProcess:
    """`openssl crl -noout` on a DER CRL, verified against the CA's certificate, with `options` (e.g. `-text`)."""
    (tmp_path / "crl.der").write_bytes(der)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    command = [
        "openssl",
        "crl",
        "-inform",
        "DER",
        "-in",
        tmp_path / "crl.der",
        "-CAfile",
        tmp_path / "ca.pem",
    ]
    return subprocess.run([*command, "-noout", *options], capture_output=True, text=True)


def openssl_verifies(tmp_path, der: bytes, ca: LocalCA) -> bool:
    out = openssl_crl(tmp_path, der, ca)
    return out.returncode == 0 and "verify OK" in out.stderr + out.stdout
