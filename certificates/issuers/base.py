"""The issuer interface: what every certificate authority backend can do, and the registry by issuer type.

A backend is one small class per issuer type (like the notification channels): adding an issuer is one new module
plus one `@register(...)` line. Services ask `backend_for(issuer)` and never branch on the type themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certificates.models import Issuer


class IssuerError(Exception):
    """The issuer could not do what was asked; `permanent=False` means trying again later may work."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


class IssuerNotSupported(IssuerError):
    """No backend is registered for this issuer type, or the backend lacks the capability."""


@dataclass(frozen=True)
class LeafRequest:
    """What to put in a leaf: the verified CSR plus the names and policy decided by the issuance service."""

    csr: x509.CertificateSigningRequest
    subject: x509.Name
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    ekus: list[str] = field(default_factory=lambda: ["serverAuth", "clientAuth"])
    must_staple: bool = False
    validity: timedelta = timedelta(days=90)
    now: datetime | None = None


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    chain: list[x509.Certificate]  # the issuer's certificates, nearest first, up to and including the root
    chain_pem: str = ""  # `chain` as PEM, when the backend has it at hand (it rarely changes)

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "040x")

    @property
    def pem_chain(self) -> str:
        """Leaf first, then each CA up to the root."""
        chain_pem = self.chain_pem or "".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain
        )
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode() + chain_pem


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    message: str


class IssuerBackend(ABC):
    """One issuer type. Instances are cheap and bound to one Issuer row."""

    type: str = ""
    can_sign_crl: bool = False

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    @abstractmethod
    def issue(self, request: LeafRequest) -> IssuedCertificate:
        """Sign a leaf for a CSR that the issuance service already checked against the profile."""

    @abstractmethod
    def revoke(self, serial_hex: str, reason: str) -> None:
        """Tell the CA a certificate is revoked (a local CA only needs the database record)."""

    @abstractmethod
    def test(self, now: datetime | None = None) -> HealthResult:
        """Check that the issuer can sign right now."""

    def crl_signer(self):
        """The CA material that signs CRLs and OCSP responder certificates (local CAs only)."""
        raise IssuerNotSupported(f"issuer type {self.type!r} does not sign CRLs")


_REGISTRY: dict[str, type[IssuerBackend]] = {}


def register(issuer_type: str) -> Callable[[type[IssuerBackend]], type[IssuerBackend]]:
    def wrap(cls: type[IssuerBackend]) -> type[IssuerBackend]:
        cls.type = issuer_type
        _REGISTRY[issuer_type] = cls
        return cls

    return wrap


def backend_for(issuer: Issuer) -> IssuerBackend:
    """The backend for an issuer row; IssuerNotSupported when its type has no implementation."""
    from certificates.issuers import registry  # noqa: F401 - registers the built-in backends

    cls = _REGISTRY.get(issuer.type)
    if cls is None:
        raise IssuerNotSupported(f"issuer type {issuer.type!r} has no backend in this server")
    return cls(issuer)


def registered_types() -> list[str]:
    from certificates.issuers import registry  # noqa: F401

    return sorted(_REGISTRY)
