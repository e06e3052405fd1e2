"""Private keys and CSRs, made on this host; only the CSR ever leaves it."""

from __future__ import annotations

import hashlib
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


def generate_key(algorithm: str = "ECDSA", size: int = 256):
    """ECDSA P-256 unless the server says the certificate's profile needs something else."""
    if algorithm == "ECDSA":
        return ec.generate_private_key(CURVES.get(size, ec.SECP256R1)())
    if algorithm == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=max(2048, size))
    if algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported key algorithm {algorithm!r}")


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(pem: bytes):
    return serialization.load_pem_private_key(pem, password=None)


def spki_fingerprint(public_key) -> str:
    """SHA-256 of the SubjectPublicKeyInfo: ties a stored key to the certificates issued for it."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        pass
    if "@" in value:
        return x509.RFC822Name(value)
    return x509.DNSName(value)


def build_csr(key, common_name: str, sans: list[str]) -> str:
    names = [common_name, *[san for san in sans if san != common_name]]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    builder = builder.add_extension(
        x509.SubjectAlternativeName([_general_name(name) for name in names if name]), critical=False
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode()


def split_chain(pem_chain: str) -> list[str]:
    """The PEM blocks of a chain, leaf first, each ending with a newline."""
    marker = "-----END CERTIFICATE-----"
    blocks = [block.strip() + "\n" + marker + "\n" for block in pem_chain.split(marker) if block.strip()]
    return [block.lstrip() for block in blocks]


def leaf_of(pem_chain: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(split_chain(pem_chain)[0].encode())
