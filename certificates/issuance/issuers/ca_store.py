"""Where a local CA keeps its material: certificate and chain in `Issuer.config`, the private key encrypted.

`Issuer.config` holds `ca_cert_pem` and `chain_pem` (the CA's issuers up to the root, empty for a root);
`Issuer.encrypted_config` holds the Fernet-encrypted JSON `{"private_key_pem": ...}` and never leaves the server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from certctl.kernel.crypto import decrypt_json, encrypt_json
from certctl.kernel.x509 import authority_key_identifier, signature_hash
from certificates.inventory.models import Issuer


class CANotConfigured(Exception):
    """The issuer has no CA certificate and key yet (run `manage.py init_ca` or `import_ca`)."""


@dataclass(frozen=True)
class CAMaterial:
    certificate: x509.Certificate
    private_key: CertificateIssuerPrivateKeyTypes
    chain: list[x509.Certificate]  # the CA's issuers, nearest first; empty for a root

    @functools.cached_property
    def chain_pem(self) -> str:
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in [self.certificate, *self.chain]
        )

    # What every leaf reads from its CA: kept here, the certificate's accessors parse on every call.
    @functools.cached_property
    def subject(self) -> x509.Name:
        return self.certificate.subject

    @functools.cached_property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @functools.cached_property
    def authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        return authority_key_identifier(self.certificate)

    @functools.cached_property
    def signature_algorithm(self) -> hashes.HashAlgorithm | None:
        return signature_hash(self.private_key)


def store_ca(
    issuer: Issuer,
    certificate: x509.Certificate,
    private_key: CertificateIssuerPrivateKeyTypes,
    chain: list[x509.Certificate] | None = None,
) -> None:
    """Put CA material on the issuer (the caller saves it, inside its transaction)."""
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    issuer.config = {
        **{k: v for k, v in (issuer.config or {}).items() if k not in {"ca_cert_pem", "chain_pem"}},
        "ca_cert_pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "chain_pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain or []),
    }
    issuer.encrypted_config = encrypt_json({"private_key_pem": key_pem})


def load_ca(issuer: Issuer) -> CAMaterial:
    config = issuer.config or {}
    if not config.get("ca_cert_pem") or not issuer.encrypted_config:
        raise CANotConfigured(f"issuer {issuer.id} has no CA certificate and key")
    secrets = decrypt_json(issuer.encrypted_config)
    certificate = x509.load_pem_x509_certificate(config["ca_cert_pem"].encode())
    key = serialization.load_pem_private_key(secrets["private_key_pem"].encode(), password=None)
    chain = x509.load_pem_x509_certificates(config["chain_pem"].encode()) if config.get("chain_pem") else []
    return CAMaterial(certificate=certificate, private_key=key, chain=chain)
