"""An agent's file scan report: the certificates it found in its configured directories, with host and path.

The agent parses files on its host and sends, per file, the certificate (PEM or base64 DER), the rest of the file's
certificates as `chain`, and `key_present`: whether a private key file next to it matches. Never a key. Each good
item is recorded at the place `agent|<agent id>|<path>`; a bad item is counted and listed, the others still count.

A file the agent no longer reports keeps its sighting and endpoint: `last_seen_at` stops moving, which is what tells
that it went away (a directory may be unreadable for a scan, so absence is not proof of deletion).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from audit.services.record import record as audit
from certctl.kernel.certificate_facts import (
    CertificateFacts,
    NotACertificate,
    load_certificate,
    read_facts,
)
from certificates.compliance.services.evaluate import evaluate_discovered
from certificates.discovery.models import SightingSource
from certificates.discovery.services.record import Place, record
from certificates.inventory.models import Agent

logger = logging.getLogger(__name__)

MAX_PATH = 1024
MAX_CHAIN = 20
MAX_LISTED_ERRORS = 50


class MalformedReport(ValueError):
    """The report as a whole is unusable (too many items): a 400, nothing recorded."""


@dataclass
class ReportResult:
    accepted: int = 0
    new: int = 0
    rejected: list[dict] = field(default_factory=list)
    certificate_ids: list[str] = field(default_factory=list)


class BadItem(ValueError):
    pass


def _facts(value: object, what: str) -> CertificateFacts:
    if not isinstance(value, str) or not value.strip():
        raise BadItem(f"{what} is missing")
    try:
        data = value.encode() if "-----BEGIN" in value else base64.b64decode(value, validate=True)
        return read_facts(load_certificate(data))
    except (NotACertificate, binascii.Error, ValueError):
        raise BadItem(f"{what} is not a certificate") from None


def _item(
    item: object, seen_paths: set[str]
) -> tuple[str, CertificateFacts, list[CertificateFacts], bool | None]:
    if not isinstance(item, dict):
        raise BadItem("not an object")
    path = item.get("path")
    if not isinstance(path, str) or not path.strip() or len(path) > MAX_PATH or "\x00" in path:
        raise BadItem(f"path must be a string of 1 to {MAX_PATH} characters")
    if path in seen_paths:
        raise BadItem("the same path twice in one report")
    if ("pem" in item) == ("der_base64" in item):
        raise BadItem("give exactly one of pem, der_base64")
    facts = _facts(item["pem"], "pem") if "pem" in item else _facts(item["der_base64"], "der_base64")
    chain = item.get("chain") or []
    if not isinstance(chain, list) or len(chain) > MAX_CHAIN:
        raise BadItem(f"chain must be a list of at most {MAX_CHAIN} PEM certificates")
    chain_facts = [_facts(pem, f"chain[{index}]") for index, pem in enumerate(chain)]
    key_present = item.get("key_present")
    if key_present is not None and not isinstance(key_present, bool):
        raise BadItem("key_present must be true, false or null")
    return path, facts, chain_facts, key_present


def accept_report(
    agent: Agent,
    items: list,
    *,
    scanned_dirs: list[str] | None = None,
    errors: list | None = None,
    now: datetime | None = None,
) -> ReportResult:
    """Record each good item of an agent's report (see the module docstring); returns counts and rejections."""
    if len(items) > settings.DISCOVERY_MAX_REPORT_ITEMS:
        raise MalformedReport(
            f"{len(items)} certificates in one report; at most {settings.DISCOVERY_MAX_REPORT_ITEMS} "
            "(CERTCTL_DISCOVERY_MAX_REPORT_ITEMS): send several reports"
        )
    now = now or timezone.now()
    result, seen_paths = ReportResult(), set()
    for index, item in enumerate(items):
        try:
            path, facts, chain, key_present = _item(item, seen_paths)
        except BadItem as exc:
            raw_path = item.get("path") if isinstance(item, dict) else None
            result.rejected.append(
                {"index": index, "path": raw_path if isinstance(raw_path, str) else "", "error": str(exc)}
            )
            continue
        seen_paths.add(path)
        place = Place(kind=SightingSource.AGENT, agent=agent, hostname=agent.hostname, path=path)
        recorded = record(
            facts,
            seen_at=now,
            place=place,
            chain=chain,
            key_present=key_present,
            detail=f"file on {agent.hostname or agent.name}",
            actor=f"agent:{agent.name}",
        )
        result.accepted += 1
        result.new += recorded.created
        result.certificate_ids.append(recorded.certificate.pk)
    errors = [str(error)[:300] for error in (errors or [])]
    audit(
        "agent_discovery_reported",
        resource_type="agent",
        resource_id=agent.pk,
        actor=agent.name,
        actor_type="Agent",
        details={
            "accepted": result.accepted,
            "new": result.new,
            "rejected": len(result.rejected),
            "scanned_dirs": [str(directory)[:MAX_PATH] for directory in (scanned_dirs or [])][:100],
            "scan_errors": len(errors),
            "first_scan_errors": errors[:MAX_LISTED_ERRORS],
        },
    )
    logger.info(
        "agent discovery report",
        extra={"agent_id": agent.pk, "accepted": result.accepted, "rejected": len(result.rejected)},
    )
    evaluate_discovered(sorted(set(result.certificate_ids)))
    return result
