"""The issuer interface: what every certificate authority backend can do (certificates.issuance.issuers.registry
maps issuer types to backends)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certificates.inventory.models import Issuer


class IssuerError(Exception):
    """The issuer could not do what was asked; `permanent=False` means trying again later may work, and
    `retry_after` (seconds) is how long the CA asked to wait first, when it said (e.g. an ACME rate limit)."""

    def __init__(self, message: str, *, permanent: bool = True, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


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
    certificate_id: str = ""  # the managed certificate, whose current version a new order may replace (ARI)


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
class RenewalInfo:
    """A CA's suggested renewal window for one certificate (ACME Renewal Information, RFC 9773)."""

    window_start: datetime
    window_end: datetime
    explanation_url: str = ""
    retry_after: int | None = None  # seconds until the CA wants to be asked again, when it said


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    message: str


def unknown_key_problems(
    config: Mapping[str, Any], allowed: frozenset[str], owner: str, prefix: str = ""
) -> dict[str, str]:
    """Keys of `config` not in `allowed`, as dotted path -> a sentence naming the key and where secrets go."""
    return {
        f"{prefix}{key}": f"{prefix}{key} is not a public setting of {owner} (allowed: "
        f"{', '.join(sorted(allowed)) or 'none'}); put credentials in `secrets`, which is stored encrypted"
        for key in config
        if key not in allowed
    }


class IssuerBackend(ABC):
    """One issuer type. Instances are cheap and bound to one Issuer row.

    `public_config_keys` are the only keys `Issuer.config` (public: returned by the API, shown in the admin) may
    hold; anything else, credentials above all, belongs in the encrypted secrets.
    """

    type: str = ""
    public_config_keys: ClassVar[frozenset[str]] = frozenset()
    can_sign_crl: bool = False
    revokes_at_ca: bool = (
        False  # revocation must reach a remote CA (revoke() does I/O), not only the database
    )
    offers_renewal_info: bool = False  # renewal_info() may answer

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    @classmethod
    def public_config_problems(cls, config: Mapping[str, Any]) -> dict[str, str]:
        """Keys of a public config this type does not declare (dotted path -> sentence); empty: fine."""
        return unknown_key_problems(config, cls.public_config_keys, f"a {cls.type} issuer")

    @abstractmethod
    def issue(self, request: LeafRequest) -> IssuedCertificate:
        """Sign a leaf for a CSR that the issuance service already checked against the profile."""

    @abstractmethod
    def revoke(self, serial_hex: str, reason: str) -> None:
        """Tell the CA a certificate is revoked (a local CA only needs the database record)."""

    @abstractmethod
    def test(self, now: datetime | None = None) -> HealthResult:
        """Check that the issuer can sign right now."""

    def renewal_info(self, certificate: x509.Certificate) -> RenewalInfo | None:
        """The CA's suggested renewal window for one of its certificates; None when the CA suggests none."""
        return None

    def crl_signer(self):
        """The CA material that signs CRLs and OCSP responder certificates (local CAs only)."""
        raise IssuerNotSupported(f"issuer type {self.type!r} does not sign CRLs")
