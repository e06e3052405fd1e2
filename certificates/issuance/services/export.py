"""Exporting the current version of a certificate (PEM or PKCS#12), with its server-generated key when asked."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.db import transaction

from audit.services.record import record
from certctl.kernel.crypto import decrypt_bytes
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.models import ServerGeneratedKey


class ExportError(Exception):
    """Nothing to export (API 409)."""


def latest_version(certificate: ManagedCertificate) -> CertificateVersion:
    version = (
        CertificateVersion.objects.filter(certificate=certificate).order_by("-created_at", "-pk").first()
    )
    if version is None:
        raise ExportError(f"certificate {certificate.pk} has not been issued yet")
    return version


def _server_key_pem(version: CertificateVersion) -> str:
    stored = ServerGeneratedKey.objects.filter(version=version).first()
    if stored is None:
        raise ExportError(
            "no server-generated key for the current version: the key was generated where the certificate is used"
        )
    return decrypt_bytes(stored.encrypted_private_key).decode()


def _audit(certificate, version, fmt: str, include_key: bool, actor: str, actor_type: str) -> None:
    record(
        "certificate_exported",
        resource_type="certificate",
        resource_id=certificate.pk,
        actor=actor,
        actor_type=actor_type,
        details={
            "format": fmt,
            "version_id": version.pk,
            "serial": version.serial_number,
            "with_key": include_key,
        },
    )


def export_pem(
    certificate: ManagedCertificate, *, actor: str, actor_type: str = "User", include_key: bool = False
) -> dict:
    """`{cert_pem, chain_pem, full_pem}` of the current version, plus `private_key_pem` when `include_key`."""
    version = latest_version(certificate)
    parts = x509.load_pem_x509_certificates(version.pem_chain.encode())
    pem = serialization.Encoding.PEM
    body = {
        "certificate_id": certificate.pk,
        "version_id": version.pk,
        "serial_number": version.serial_number,
        "cert_pem": parts[0].public_bytes(pem).decode(),
        "chain_pem": "".join(c.public_bytes(pem).decode() for c in parts[1:]),
        "full_pem": version.pem_chain,
    }
    with transaction.atomic():
        if include_key:
            body["private_key_pem"] = _server_key_pem(version)
        _audit(certificate, version, "pem", include_key, actor, actor_type)
    return body


def export_pkcs12(
    certificate: ManagedCertificate, *, password: str, actor: str, actor_type: str = "User"
) -> bytes:
    """A password-protected PKCS#12 bundle: the server-generated key, the leaf and its chain."""
    version = latest_version(certificate)
    key = serialization.load_pem_private_key(_server_key_pem(version).encode(), password=None)
    leaf, *chain = x509.load_pem_x509_certificates(version.pem_chain.encode())
    bundle = pkcs12.serialize_key_and_certificates(
        certificate.name.encode(),
        key,
        leaf,
        chain or None,
        serialization.BestAvailableEncryption(password.encode()),
    )
    with transaction.atomic():
        _audit(certificate, version, "pkcs12", True, actor, actor_type)
    return bundle
