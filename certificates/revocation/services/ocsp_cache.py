"""Answering OCSP requests: nonce-less answers come from the cache until nextUpdate or a revocation of the serial.

Status: a revocation row → revoked (time + reason), except short-lived certificates (good: expiry is their
revocation); an issued version with that issuer and serial → good; anything else → unknown.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from certctl.kernel import counters
from certctl.kernel.x509 import serial_variants
from certificates.enums import IssuerType
from certificates.inventory.models import CertificateProfile, CertificateVersion, Issuer, ManagedCertificate
from certificates.revocation.models import CertificateRevocation, OCSPResponseCache
from certificates.revocation.pki.ocsp import (
    Answer,
    MalformedRequest,
    ParsedRequest,
    error_response,
    issuer_hashes,
    parse_request,
)
from certificates.revocation.pki.ocsp_signer import PreparedSigner
from certificates.revocation.services import ocsp_memo
from certificates.revocation.services.ocsp_responder import (
    ResponderMaterial,
    cached_responder,
    current_responder,
)

logger = logging.getLogger(__name__)

OCSP_METRIC = "certctl_ocsp_responses_total"
# Responses are counted in memory and written every FLUSH_EVERY responses or FLUSH_SECONDS: one UPSERT per
# response would double the cost of a cached answer. A crash loses at most that many counts.
FLUSH_EVERY = 200
FLUSH_SECONDS = 5.0
_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()
_last_flush = time.monotonic()


@dataclass(frozen=True)
class OCSPResult:
    der: bytes
    status: str  # good | revoked | unknown | malformedRequest | unauthorized | internalError
    next_update: datetime | None = None  # None: not cacheable by HTTP caches (errors, nonced answers)
    from_cache: bool = False


def answer(
    issuer_id: str, request_der: bytes, now: datetime | None = None, *, memory_only: bool = False
) -> OCSPResult | None:
    """The DER OCSPResponse for a DER OCSPRequest addressed to one issuer's responder. `memory_only`: None
    instead of reading the database (the WSGI fast path then answers inside Django's request signals)."""
    result = _answer(issuer_id, request_der, now or timezone.now(), memory_only)
    if result is None:
        return None
    with _counts_lock:
        _counts[result.status] += 1
        due = _counts.total() >= FLUSH_EVERY or time.monotonic() - _last_flush >= FLUSH_SECONDS
    if due:
        flush_metrics()
    return result


def flush_metrics() -> None:
    """Write the in-memory response counts to the shared counters."""
    global _last_flush
    with _counts_lock:
        pending = list(_counts.items())
        _counts.clear()
        _last_flush = time.monotonic()
    counters.increment_many(OCSP_METRIC, [({"status": status}, n) for status, n in pending])


@atexit.register
def _flush_at_exit() -> None:
    # The database may already be gone at interpreter exit (tests); the counts are then lost, as on a crash.
    with contextlib.suppress(Exception):
        if _counts:
            flush_metrics()


def _answer(
    issuer_id: str, request_der: bytes, now: datetime, memory_only: bool = False
) -> OCSPResult | None:
    try:
        request = parse_request(request_der)
    except MalformedRequest:
        return OCSPResult(error_response("malformedRequest"), "malformedRequest")
    if "\x00" in issuer_id:  # PostgreSQL cannot compare it (DataError): no issuer has such an id
        return OCSPResult(error_response("unauthorized"), "unauthorized")

    if memory_only:
        if not ocsp_memo.fresh():
            return None
        memo = True
    else:
        memo = ocsp_memo.enabled()
        if memo:
            ocsp_memo.refresh()
    token = ocsp_memo.generation()  # before any read: a revocation meanwhile voids what the reads find
    answer_key = (issuer_id, request.serial_hex, request.hash_algorithm)
    if request.nonce is None:
        remembered = ocsp_memo.answer(answer_key, now) if memo else None
        if remembered is None and memory_only:
            return None
        cached = remembered or _fetch(
            _CACHE_LOOKUP, [issuer_id, request.serial_hex, request.hash_algorithm, now]
        )
        # The cached answer carries the CertID of the request that passed the issuer check; one naming another
        # CA (same serial and hash) must not get it, it goes the live way and gets `unauthorized`.
        if cached is not None and _same_issuer(bytes(cached[0]), request):
            kept = (bytes(cached[0]), cached[1], cached[2])
            if remembered is None:
                ocsp_memo.keep_answer(token, answer_key, kept)
            return OCSPResult(*kept, from_cache=True)

    status_key = (issuer_id, request.serial_hex)
    found = ocsp_memo.status(status_key) if memo else None
    if found is None:
        if memory_only:
            return None
        found = _issuer_and_status(issuer_id, request)
        if found is None:
            return OCSPResult(error_response("unauthorized"), "unauthorized")
        ocsp_memo.keep_status(token, status_key, found, unknown=found[1].status == "unknown")
    ca_pem, status = found
    if (request.issuer_name_hash, request.issuer_key_hash) != _issuer_hashes(ca_pem, request.hash_algorithm):
        # The certificate was not issued by this CA: this responder is not authoritative for it.
        return OCSPResult(error_response("unauthorized"), "unauthorized")

    this_update = now
    next_update = now + timedelta(seconds=settings.OCSP_RESPONSE_VALIDITY)
    material = cached_responder(issuer_id, ca_pem, now)
    if material is None and memory_only:
        return None
    try:
        material = material or current_responder(Issuer.objects.get(pk=issuer_id), now)
        der = prepared_signer(material).response(
            request, status, this_update=this_update, next_update=next_update
        )
    except Exception:
        logger.exception("OCSP signing failed", extra={"issuer_id": issuer_id})
        return OCSPResult(error_response("internalError"), "internalError")

    if request.nonce is None:
        if memory_only:
            return None
        _execute(
            _CACHE_STORE,
            [
                issuer_id,
                request.serial_hex,
                request.hash_algorithm,
                der,
                status.status,
                this_update,
                next_update,
            ],
        )
        ocsp_memo.keep_answer(token, answer_key, (der, status.status, next_update))
    # A nonced answer is for one client only: HTTP caches must not reuse it.
    return OCSPResult(der, status.status, next_update if request.nonce is None else None)


def _same_issuer(response_der: bytes, request: ParsedRequest) -> bool:
    return request.issuer_key_hash in response_der and request.issuer_name_hash in response_der


def _issuer_and_status(issuer_id: str, request: ParsedRequest) -> tuple[str, Answer] | None:
    """(CA certificate PEM, answer) for a local CA with key material, else None: on PostgreSQL one prepared
    statement looks up the issuer, the revocation and the issued version together."""
    if connection.vendor != "postgresql":
        issuer = Issuer.objects.filter(pk=issuer_id, type=IssuerType.LOCAL).first()
        ca_pem = (issuer.config or {}).get("ca_cert_pem") if issuer else None
        if not ca_pem or not issuer.encrypted_config:
            return None
        return ca_pem, certificate_status(issuer_id, request)
    spellings = serial_variants(request.serial_number)
    row = _fetch(_ISSUER_AND_STATUS, [spellings, spellings, spellings, issuer_id, IssuerType.LOCAL.value])
    if row is None or not row[0] or not row[1]:
        return None
    ca_pem, _, revoked_at, reason, short_lived, issued = row
    if revoked_at is not None and not short_lived:
        return ca_pem, Answer("revoked", revoked_at, reason)
    return ca_pem, Answer("good" if revoked_at is not None or issued else "unknown")


def _fetch(sql: str, params: list):
    """One row, through a server-binding cursor on Django's connection (the statement prepared once per
    connection); other databases through Django's cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS)
        return cursor.fetchone()


def _execute(sql: str, params: list) -> None:
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS)


_REVOCATIONS = CertificateRevocation._meta.db_table
_CERTIFICATES = ManagedCertificate._meta.db_table
_VERSIONS = CertificateVersion._meta.db_table

# The rules of certificate_status() below, in one statement.
_ISSUER_AND_STATUS = f"""
    SELECT i.config ->> 'ca_cert_pem', i.encrypted_config <> '', r.revoked_at, r.reason, r.short_lived,
           EXISTS (SELECT 1 FROM {_VERSIONS} v WHERE v.serial_number = ANY(%s) AND v.issuer_id = i.id)
           OR EXISTS (SELECT 1 FROM {_VERSIONS} v JOIN {_CERTIFICATES} vc ON vc.id = v.certificate_id
                      WHERE v.serial_number = ANY(%s) AND v.issuer_id IS NULL AND vc.issuer_id = i.id)
    FROM {Issuer._meta.db_table} i
    LEFT JOIN LATERAL (
        SELECT r.revoked_at, r.reason,
               COALESCE(p.allow_short_lived AND p.max_ttl_seconds > 0 AND p.max_ttl_seconds < 3600, FALSE)
                   AS short_lived
        FROM {_REVOCATIONS} r
        JOIN {_CERTIFICATES} c ON c.id = r.certificate_id
        LEFT JOIN {CertificateProfile._meta.db_table} p ON p.id = c.profile_id
        WHERE r.issuer_id = i.id AND r.serial_number = ANY(%s)
        LIMIT 1
    ) r ON TRUE
    WHERE i.id = %s AND i.type = %s
"""  # noqa: S608 - table names are ours


_CACHE_LOOKUP = (
    f"SELECT response_der, cert_status, next_update FROM {OCSPResponseCache._meta.db_table} "  # noqa: S608
    "WHERE issuer_id = %s AND serial_hex = %s AND hash_algorithm = %s AND next_update > %s LIMIT 1"
)


_CACHE_STORE = (
    f"INSERT INTO {OCSPResponseCache._meta.db_table} "  # noqa: S608
    "(issuer_id, serial_hex, hash_algorithm, response_der, cert_status, this_update, next_update) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (issuer_id, serial_hex, hash_algorithm) DO UPDATE SET "
    "response_der = excluded.response_der, cert_status = excluded.cert_status, "
    "this_update = excluded.this_update, next_update = excluded.next_update"
)


def certificate_status(issuer_id: str, request: ParsedRequest) -> Answer:
    """The answer for one serial; join-free queries first (planning a join cost more than running it)."""
    spellings = serial_variants(request.serial_number)
    revocation = (
        CertificateRevocation.objects.filter(issuer_id=issuer_id, serial_number__in=spellings)
        .order_by()
        .values_list("revoked_at", "reason", "certificate_id")[:1]
    )
    if revocation:
        revoked_at, reason, certificate_id = revocation[0]
        if ManagedCertificate.objects.filter(pk=certificate_id).filter(short_lived_profile()).exists():
            return Answer("good")
        return Answer("revoked", revoked_at, reason)
    versions = CertificateVersion.objects.filter(serial_number__in=spellings)
    if versions.filter(issuer_id=issuer_id).exists():
        return Answer("good")
    if versions.filter(issuer__isnull=True, certificate__issuer_id=issuer_id).exists():
        return Answer("good")
    return Answer("unknown")


def short_lived_profile() -> Q:
    return Q(
        profile__allow_short_lived=True, profile__max_ttl_seconds__gt=0, profile__max_ttl_seconds__lt=3600
    )


# One prepared signer per responder certificate this process signs with (each issuer has its own; a rotation
# brings new material, and the bound drops signers of responders no longer in use).
_signers: dict[int, tuple[ResponderMaterial, PreparedSigner]] = {}
MAX_SIGNERS = 256


def prepared_signer(material: ResponderMaterial) -> PreparedSigner:
    entry = _signers.get(id(material))
    if entry is None or entry[0] is not material:
        if len(_signers) >= MAX_SIGNERS:
            _signers.clear()
        signer = PreparedSigner(material.certificate, material.private_key)
        entry = _signers[id(material)] = (material, signer)
    return entry[1]


@lru_cache(maxsize=256)
def _issuer_hashes(ca_pem: str, algorithm: str) -> tuple[bytes, bytes]:
    der = x509.load_pem_x509_certificate(ca_pem.encode()).public_bytes(serialization.Encoding.DER)
    return issuer_hashes(der, algorithm)
