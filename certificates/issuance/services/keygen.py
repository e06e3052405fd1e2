"""Server-side key generation (CERTCTL_KEYGEN_MODE=server, for lab setups): a key and CSR the profile accepts."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from certificates.inventory.models import ManagedCertificate
from certificates.issuance.services.csr_policy import ProfileViolation

_CURVES = [(256, ec.SECP256R1), (384, ec.SECP384R1), (521, ec.SECP521R1)]
DEFAULT_ALGORITHMS = [{"algorithm": "ECDSA", "min_size": 256}, {"algorithm": "RSA", "min_size": 2048}]


def generate_key_for(certificate: ManagedCertificate):
    """The cheapest key the profile allows: ECDSA on the smallest allowed curve, else RSA, else Ed25519."""
    allowed = certificate.profile.allowed_key_algorithms if certificate.profile else DEFAULT_ALGORITHMS
    by_name = {rule["algorithm"]: rule.get("min_size", 0) for rule in allowed}
    if "ECDSA" in by_name:
        for bits, curve in _CURVES:
            if bits >= by_name["ECDSA"]:
                return ec.generate_private_key(curve())
    if "RSA" in by_name:
        return rsa.generate_private_key(public_exponent=65537, key_size=max(2048, by_name["RSA"]))
    if "Ed25519" in by_name:
        return ed25519.Ed25519PrivateKey.generate()
    raise ProfileViolation("the profile allows no key type the server can generate")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.RFC822Name(name) if "@" in name else x509.DNSName(name)


def generate_key_and_csr(certificate: ManagedCertificate) -> tuple[str, str]:
    """A new private key (PKCS#8 PEM) and a CSR for the certificate's names, signed with it."""
    key = generate_key_for(certificate)
    names = list(dict.fromkeys([certificate.common_name, *certificate.sans]))
    subject = (
        [x509.NameAttribute(NameOID.COMMON_NAME, certificate.common_name)]
        if len(certificate.common_name) <= 64
        else []
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(subject))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()
