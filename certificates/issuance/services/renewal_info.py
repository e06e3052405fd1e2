"""ACME Renewal Information (RFC 9773): ask each certificate's CA when to renew it, and schedule the renewal.

The beat task `certificates.refresh_renewal_info` claims certificates whose check is due (a lease in
`ari_next_check_at`, `SKIP LOCKED`), asks their CA outside any transaction, and writes the outcome only if the
claim still holds (a renewal issued meanwhile clears the fields, and the old answer must not come back). The
renewal moment is random inside the suggested window, kept while the window stays the same and drawn again when
the CA moves it (a mass revocation shortens it); the renewal check opens the job once that moment has passed.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services.record import record
from certificates.enums import CertificateStatus
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.issuers.base import IssuerBackend, IssuerError, RenewalInfo
from certificates.issuance.issuers.registry import backend_for, types_offering_renewal_info

logger = logging.getLogger(__name__)

REFRESH_TASK = "certificates.refresh_renewal_info"
DEFAULT_REFRESH = timedelta(hours=6)  # RFC 9773 4.3.3: without Retry-After, ask again in about six hours
MIN_REFRESH = timedelta(minutes=1)
MAX_REFRESH = timedelta(days=1)  # a Retry-After of weeks would miss a mass revocation
AFTER_ERROR = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=10)
BATCH_SIZE = 100
CHECKED_STATUSES = (CertificateStatus.ACTIVE, CertificateStatus.EXPIRING)


@dataclass
class RefreshResult:
    claimed: int = 0
    updated: int = 0  # a window stored (new or moved)
    unchanged: int = 0
    without_ari: int = 0  # the CA offers no renewal information
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def pick_renewal_moment(start: datetime, end: datetime, rng: random.Random | None = None) -> datetime:
    """A uniformly random moment inside the window (RFC 9773 4.2), so a CA's certificates do not all renew at once."""
    seconds = (end - start).total_seconds()
    return start + timedelta(seconds=(rng or random).uniform(0, seconds))


def next_check(now: datetime, retry_after: int | None) -> datetime:
    """When to ask again: the CA's Retry-After clamped to [1 minute, 1 day], else six hours."""
    if retry_after is None:
        return now + DEFAULT_REFRESH
    return now + min(max(timedelta(seconds=retry_after), MIN_REFRESH), MAX_REFRESH)


def _claim(now: datetime, batch_size: int) -> list[ManagedCertificate]:
    """Certificates whose check is due, each leased for CLAIM_LEASE (a crashed worker only delays them)."""
    with transaction.atomic():
        claimed = list(
            ManagedCertificate.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status__in=CHECKED_STATUSES,
                expires_at__gt=now,  # RFC 9773 4.3: never for an expired certificate
                issuer__enabled=True,
                issuer__type__in=types_offering_renewal_info(),
            )
            .filter(Q(ari_next_check_at__isnull=True) | Q(ari_next_check_at__lte=now))
            .select_related("issuer")
            .order_by("ari_next_check_at", "pk")[:batch_size]
        )
        lease = now + CLAIM_LEASE
        ManagedCertificate.objects.filter(pk__in=[c.pk for c in claimed]).update(ari_next_check_at=lease)
        for certificate in claimed:
            certificate.ari_next_check_at = lease
    return claimed


def _current_leaves(certificates: list[ManagedCertificate]) -> dict[str, x509.Certificate | None]:
    """Each certificate's current leaf, when its issuer issued it (another issuer's leaf is not this CA's)."""
    issuers = {c.pk: c.issuer_id for c in certificates}
    latest: dict[str, CertificateVersion] = {}
    versions = CertificateVersion.objects.filter(certificate_id__in=list(issuers)).only(
        "id", "certificate_id", "issuer_id", "pem_chain", "created_at"
    )
    for version in versions.order_by("-created_at", "-id"):
        latest.setdefault(version.certificate_id, version)
    leaves: dict[str, x509.Certificate | None] = {}
    for pk, issuer_id in issuers.items():
        version = latest.get(pk)
        if version is None or version.issuer_id not in (None, issuer_id):
            leaves[pk] = None
            continue
        leaves[pk] = x509.load_pem_x509_certificates(version.pem_chain.encode())[0]
    return leaves


def refresh_due(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE, rng: random.Random | None = None
) -> RefreshResult:
    """Ask the CA of every certificate whose check is due for its renewal window, batch after batch (beat task)."""
    now = now or timezone.now()
    result = RefreshResult()
    backends: dict[str, IssuerBackend] = {}  # one per issuer: its directory is fetched once per run
    while True:
        claimed = _claim(now, batch_size)
        result.claimed += len(claimed)
        leaves = _current_leaves(claimed)
        for certificate in claimed:
            backend = backends.setdefault(certificate.issuer_id, backend_for(certificate.issuer))
            _refresh_one(certificate, backend, leaves[certificate.pk], now, result, rng)
        if len(claimed) < batch_size:
            break
    if result.claimed:
        logger.info("renewal information refreshed", extra=result.as_dict())
    return result


def _refresh_one(
    certificate: ManagedCertificate,
    backend: IssuerBackend,
    leaf: x509.Certificate | None,
    now: datetime,
    result: RefreshResult,
    rng: random.Random | None,
) -> None:
    lease = certificate.ari_next_check_at
    mine = ManagedCertificate.objects.filter(pk=certificate.pk, ari_next_check_at=lease)
    try:
        info = backend.renewal_info(leaf) if leaf is not None else None
    except IssuerError as exc:
        result.failed += 1
        logger.warning(
            "renewal information fetch failed",
            extra={"certificate_id": certificate.pk, "issuer_id": certificate.issuer_id, "error": str(exc)},
        )
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else AFTER_ERROR
        mine.update(ari_next_check_at=now + min(max(wait, MIN_REFRESH), MAX_REFRESH))
        return
    if info is None:
        result.without_ari += 1
        mine.update(ari_next_check_at=now + DEFAULT_REFRESH)
        return
    _store(certificate, mine, info, now, result, rng)


def _store(certificate, mine, info: RenewalInfo, now: datetime, result: RefreshResult, rng) -> None:
    moved = (certificate.ari_window_start, certificate.ari_window_end) != (info.window_start, info.window_end)
    renew_at = (
        pick_renewal_moment(info.window_start, info.window_end, rng)
        if moved or certificate.ari_renew_at is None
        else certificate.ari_renew_at
    )
    with transaction.atomic():
        written = mine.update(
            ari_window_start=info.window_start,
            ari_window_end=info.window_end,
            ari_explanation_url=info.explanation_url,
            ari_renew_at=renew_at,
            ari_checked_at=now,
            ari_next_check_at=next_check(now, info.retry_after),
        )
        if written and moved:
            record(
                "renewal_window_suggested",
                resource_type="certificate",
                resource_id=certificate.pk,
                actor="system",
                actor_type="System",
                details={
                    "window_start": info.window_start.isoformat(),
                    "window_end": info.window_end.isoformat(),
                    "renew_at": renew_at.isoformat(),
                    "explanation_url": info.explanation_url,
                    "previous_window_start": _iso(certificate.ari_window_start),
                    "previous_window_end": _iso(certificate.ari_window_end),
                },
                now=now,
            )
    if not written:
        return  # renewed or re-claimed meanwhile: this answer was about a version that is no longer current
    if moved:
        result.updated += 1
    else:
        result.unchanged += 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
