"""Shared helpers for the compliance tests: rules, managed certificates with a real version, discovered ones."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives import serialization

from certctl.kernel.certificate_facts import read_facts
from certificates.compliance.models import ComplianceRule
from certificates.compliance.services.rule_config import clean_config
from certificates.discovery.services.record import Place, record
from certificates.inventory.models import CertificateVersion
from tests.discovery_support import Issued
from tests.factories import CertificateFactory

NOW = dt.datetime.now(dt.UTC)


def only_rule(type: str, config: dict | None = None, *, severity="Error", applies_to="all", name=None):
    """Disable the seeded rules and create one enabled rule, so a test judges against it alone."""
    ComplianceRule.objects.update(enabled=False)
    return ComplianceRule.objects.create(
        name=name or f"test {type}",
        type=type,
        config=clean_config(type, config or {}),
        severity=severity,
        applies_to=applies_to,
    )


def managed(issued: Issued, chain: list[Issued] = (), **fields):
    """A managed certificate whose current version is `issued` (its chain after it)."""
    certificate = CertificateFactory(**fields)
    pem = issued.pem + b"".join(one.pem for one in chain)
    CertificateVersion.objects.create(
        certificate=certificate,
        issuer=certificate.issuer,
        serial_number=format(issued.cert.serial_number, "x"),
        not_before=issued.cert.not_valid_before_utc,
        not_after=issued.cert.not_valid_after_utc,
        fingerprint_sha256=read_facts(issued.cert).fingerprint_sha256,
        pem_chain=pem.decode(),
    )
    return certificate


def discovered(issued: Issued, *, port: int = 443, chain_problem: str = "", seen_at=None):
    """Record `issued` as seen at 127.0.0.1:`port`; returns the DiscoveredCertificate."""
    found = record(
        read_facts(issued.cert),
        seen_at=seen_at or NOW,
        place=Place(kind="network", address="127.0.0.1", port=port, sni=""),
        chain_problem=chain_problem,
    )
    return found.certificate


def der(issued: Issued) -> bytes:
    return issued.cert.public_bytes(serialization.Encoding.DER)
