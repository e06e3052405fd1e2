"""Builders for the discovered-inventory tests: certificates recorded the one real way (record())."""

from __future__ import annotations

import datetime as dt

from certctl.kernel.certificate_facts import read_facts
from certificates.discovery.models import DiscoveredCertificate
from certificates.discovery.services.record import Place, record
from tests.discovery_support import Issued, Pki, issue

NOW = dt.datetime.now(dt.UTC)


def net(port: int = 443, sni: str = "", address: str = "127.0.0.1") -> Place:
    return Place(kind="network", address=address, port=port, sni=sni)


def seen(
    issued: Issued, place: Place | None = None, *, at: dt.datetime | None = None, **kwargs
) -> DiscoveredCertificate:
    """Record `issued` as seen at `place` (an import when None) and return its row."""
    return record(read_facts(issued.cert), seen_at=at or NOW, place=place, **kwargs).certificate


def imported(issued: Issued, *, with_key: bool = False, chain: list[Issued] = ()) -> DiscoveredCertificate:
    return record(
        read_facts(issued.cert),
        seen_at=NOW,
        chain=[read_facts(item.cert) for item in chain],
        private_key_pem=issued.key_pem if with_key else None,
        detail="bundle.pem imported by test",
    ).certificate


__all__ = ["NOW", "Pki", "imported", "issue", "net", "seen"]
