"""Is a served chain complete and in order? Judged from what the server presented, against known roots."""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from django.conf import settings

from certificates.discovery.models import ChainProblem

logger = logging.getLogger(__name__)


@functools.cache
def _bundle_subjects(path: str) -> frozenset[bytes]:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return frozenset()
    try:
        with (
            warnings.catch_warnings()
        ):  # a system root with a negative serial: harmless, only its name is used
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        logger.warning("discovery trust bundle %s holds no readable certificate", path)
        return frozenset()
    return frozenset(cert.subject.public_bytes() for cert in certs)


def trust_anchor_subjects() -> frozenset[bytes]:
    """Subjects (DER names) of the roots in CERTCTL_DISCOVERY_TRUST_BUNDLE (the system bundle by default)."""
    return (
        _bundle_subjects(settings.DISCOVERY_TRUST_BUNDLE) if settings.DISCOVERY_TRUST_BUNDLE else frozenset()
    )


def chain_problem(presented: list[x509.Certificate], anchors: frozenset[bytes] | None = None) -> str:
    """`wrong_order` when each certificate is not followed by its issuer although the issuer was sent;
    `missing_intermediate` when the path from the leaf stops at a certificate whose issuer was neither sent
    nor is a known root, and that certificate is not a CA itself (servers may leave the root out); else ""."""
    if not presented:
        return ChainProblem.NONE
    anchors = trust_anchor_subjects() if anchors is None else anchors
    subjects = {cert.subject.public_bytes(): cert for cert in presented}
    leaf = presented[0]
    in_order = all(presented[i].issuer == presented[i + 1].subject for i in range(len(presented) - 1))
    if not in_order:
        return ChainProblem.WRONG_ORDER
    # Follow issuers from the leaf through what was sent.
    current, seen = leaf, set()
    while True:
        issuer = current.issuer.public_bytes()
        if current.subject == current.issuer or issuer in anchors:
            return ChainProblem.NONE
        nxt = subjects.get(issuer)
        if nxt is None or issuer in seen:
            break
        seen.add(issuer)
        current = nxt
    if current is not leaf and _is_ca(current):
        return ChainProblem.NONE  # an intermediate whose root the client is expected to have
    return ChainProblem.MISSING_INTERMEDIATE


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False
