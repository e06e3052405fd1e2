"""Helpers shared by the agent tests: agents with credentials, a throwaway CA and issued versions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from certctl.kernel.credentials import generate_agent_credential, hash_key
from certificates.inventory.models import Agent, CertificateVersion, ManagedCertificate
from certificates.issuance.models import Job
from tests import issuance_helpers  # noqa: F401  (installs the notification-task stub until that stream merges)
from tests.factories import AgentFactory, CertificateFactory, JobFactory


def make_agent(**kwargs) -> tuple[Agent, str]:
    fields = {"status": "Online", "last_heartbeat_at": timezone.now(), **kwargs}
    agent = AgentFactory.build(**fields)
    credential = generate_agent_credential(agent.id)
    agent.api_key_hash = hash_key(credential)
    agent.save()
    return agent, credential


def agent_client(api_client, credential: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
    return api_client


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test CA"))
        .issuer_name(_name("Test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def sign_leaf(ca, public_key, cn: str) -> x509.Certificate:
    ca_cert, ca_key = ca
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=90))
        .sign(ca_key, hashes.SHA256())
    )


def add_version(certificate: ManagedCertificate, leaf: x509.Certificate, ca_cert: x509.Certificate):
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
    return CertificateVersion.objects.create(
        certificate=certificate,
        serial_number=f"{leaf.serial_number:040x}",
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        pem_chain=pem(leaf) + pem(ca_cert),
        key_algorithm="ECDSA",
        key_size=256,
    )


def deployment_job(target, **kwargs) -> Job:
    """A Pending deployment job to `target`, for a certificate mapped to it (a new one unless given)."""
    certificate = kwargs.pop("certificate", None) or CertificateFactory()
    certificate.targets.add(target)
    fields = {
        "type": "Deployment",
        "status": "Pending",
        "certificate": certificate,
        "target": target,
        **kwargs,
    }
    return JobFactory(**fields)
