"""Helpers for the issuance stream's tests: local CAs, CSRs and certificates ready to issue."""

from __future__ import annotations

import sys
import types

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from certificates.issuance.services.ca_setup import init_ca
from tests.factories import CertificateFactory, ProfileFactory


def _ensure_notification_task() -> None:
    """The outbox schedules `notifications.tasks.deliver_notification`; the notifications stream writes that
    module. Until it is merged, delivery is a no-op here (the outbox row itself is what these tests check)."""
    try:
        import notifications.tasks  # noqa: F401
    except ModuleNotFoundError:
        stub = types.ModuleType("notifications.tasks")
        stub.deliver_notification = types.SimpleNamespace(delay=lambda event_id: None)
        sys.modules["notifications.tasks"] = stub


_ensure_notification_task()

KEY_MAKERS = {
    "ECDSA-P256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ECDSA-P384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "RSA-2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "RSA-3072": lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
}


def make_key(kind: str = "ECDSA-P256"):
    return KEY_MAKERS[kind]()


def make_csr(
    names: list[str], key=None, *, cn: str | None = None, ekus: list | None = None
) -> tuple[str, object]:
    """A PEM CSR with CN = `cn` (default: first name) and every name as a SAN; returns (pem, key)."""
    key = key or make_key()
    import ipaddress

    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.RFC822Name(name) if "@" in name else x509.DNSName(name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or names[0])])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = builder.sign(key, algorithm)
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def make_root(name: str = "root-ca", key_type: str = "ec", **kwargs):
    return init_ca(name, subject=f"CN={name} Test Root,O=certctl tests", key_type=key_type, **kwargs)


def make_intermediate(parent, name: str = "issuing-ca", key_type: str = "ec", **kwargs):
    return init_ca(
        name, subject=f"CN={name} Issuing CA,O=certctl tests", key_type=key_type, parent=parent, **kwargs
    )


def issuable_certificate(issuer, *, profile=None, sans=None, **kwargs):
    """A managed certificate on `issuer`, never issued yet (no expiry), with a permissive ECDSA/RSA/Ed25519 profile."""
    if profile is None:
        profile = ProfileFactory(
            allowed_key_algorithms=[
                {"algorithm": "ECDSA", "min_size": 256},
                {"algorithm": "RSA", "min_size": 2048},
                {"algorithm": "Ed25519", "min_size": 0},
            ],
            allowed_ekus=["serverAuth", "clientAuth"],
        )
    fields = {"status": "Pending", "expires_at": None, **kwargs}
    cert = CertificateFactory(issuer=issuer, profile=profile, **fields)
    if sans is not None:
        cert.sans = sans
        cert.save(update_fields=["sans"])
    return cert


def names_of(cert) -> list[str]:
    return [cert.common_name, *cert.sans]


def split_chain(pem_chain: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem_chain.encode())
