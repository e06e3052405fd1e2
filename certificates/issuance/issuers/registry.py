"""The issuer backends by issuer type: one small class per type (like the notification channels), so adding an
issuer is one new module plus one line here. Services ask `backend_for(issuer)` and never branch on the type."""

from __future__ import annotations

from typing import Any

from certificates.enums import IssuerType
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme import AcmeIssuer
from certificates.issuance.issuers.base import IssuerBackend, IssuerNotSupported, unknown_key_problems
from certificates.issuance.issuers.local import LocalCA

BACKENDS: dict[str, type[IssuerBackend]] = {
    IssuerType.LOCAL: LocalCA,
    IssuerType.ACME: AcmeIssuer,
}


def backend_for(issuer: Issuer) -> IssuerBackend:
    """The backend for an issuer row; IssuerNotSupported when its type has no implementation."""
    cls = BACKENDS.get(issuer.type)
    if cls is None:
        raise IssuerNotSupported(f"issuer type {issuer.type!r} has no backend in this server")
    return cls(issuer)


def public_config_problems(issuer_type: str, config: dict[str, Any]) -> dict[str, str]:
    """What an issuer's public `config` holds that its type does not declare public (dotted path -> sentence).

    A type without a backend declares nothing, so its config must be empty."""
    cls = BACKENDS.get(issuer_type)
    if cls is None:
        return unknown_key_problems(
            config, frozenset(), f"a {issuer_type} issuer (no backend in this server)"
        )
    return cls.public_config_problems(config)


def registered_types() -> list[str]:
    return sorted(BACKENDS)


def types_revoking_at_ca() -> list[str]:
    """Issuer types whose CA must be told of a revocation (by a task after commit)."""
    return sorted(name for name, cls in BACKENDS.items() if cls.revokes_at_ca)


def types_offering_renewal_info() -> list[str]:
    """Issuer types whose CA may suggest renewal windows (ARI)."""
    return sorted(name for name, cls in BACKENDS.items() if cls.offers_renewal_info)
