"""The signed CRL of each issuer, pre-generated and stored; a request only signs when no fresh CRL exists.

Regeneration holds `SELECT … FOR UPDATE` on the issuer's CRLCache row, so concurrent regenerations of one issuer
run one after the other and the later one finds the work done (one CRL, CRL numbers strictly increasing).
Each revocation's CRL entry is encoded once and stored with it; a new CRL appends the new entries to those of the
stored one and signs once (0.1 s at 100,000 entries instead of reading and encoding them all again).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta

import psycopg
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from certificates.enums import IssuerType
from certificates.inventory.models import CertificateProfile, Issuer, ManagedCertificate
from certificates.issuance.issuers.ca_store import CANotConfigured, load_ca
from certificates.revocation.models import CertificateRevocation, CRLCache
from certificates.revocation.pki.crl import build_crl_from_entries, encode_entry, entries_of

logger = logging.getLogger(__name__)

STREAM_CHUNK = 5000


class IssuerNotFound(Exception):
    pass


class CRLNotSupported(Exception):
    """The issuer is not a local CA with key material, so certctl cannot sign its CRL."""


def encode_pending(issuer_id: str) -> tuple[list[bytes], int]:
    """Encode and store the CRL entry of every revocation of the issuer that no CRL has taken in yet; returns the
    new entries that belong on the CRL (short-lived certificates' revocations are encoded but left off) and how
    many revocations were taken in."""
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(_pending_revocations(postgresql), [issuer_id])
        rows = cursor.fetchall()
    if not rows:
        return [], 0
    encoded = [encode_entry(serial, revoked_at, reason) for _, serial, revoked_at, reason, _ in rows]
    ids = [row[0] for row in rows]
    table = CertificateRevocation._meta.db_table
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute(
                f"UPDATE {table} r SET crl_entry = v.entry "  # noqa: S608 - table name is ours
                "FROM unnest(%b::text[], %b::bytea[]) AS v(id, entry) WHERE r.id = v.id",
                [ids, encoded],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET crl_entry = %s WHERE id = %s",  # noqa: S608
                list(zip(encoded, ids, strict=True)),
            )
    return [entry for entry, row in zip(encoded, rows, strict=True) if row[4]], len(rows)


def stream_entries(issuer_id: str):
    """The stored DER entry of every revocation on the issuer's CRL that has one (run `encode_pending` first),
    read with a server-side cursor. Raw SQL: per-row ORM conversion would cost more than signing the CRL."""
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgresql:
            with connection.cursor() as cursor:
                # Every row is read: plan for the whole result, not for the first 10 % (a cursor's default, which
                # chose a fast-start plan on tables not analyzed yet: 5 s instead of 1 s for 100,000 rows).
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        with connection.chunked_cursor() as cursor:
            cursor.execute(_ENTRIES_ON_CRL, [issuer_id])
            while rows := cursor.fetchmany(STREAM_CHUNK):
                for (entry,) in rows:
                    yield bytes(entry)
        if postgresql:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL cursor_tuple_fraction TO DEFAULT")


def count_taken_in(issuer_id: str) -> int:
    """How many of the issuer's revocations have their entry encoded (on a CRL or left off it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {CertificateRevocation._meta.db_table} "  # noqa: S608 - table name is ours
            "WHERE issuer_id = %s AND crl_entry IS NOT NULL",
            [issuer_id],
        )
        return cursor.fetchone()[0]


def _stored_crl(issuer_id: str) -> bytes:
    """The stored CRL's DER (the row is locked); on PostgreSQL read in binary: a 5 MB bytea as hex text is slow."""
    table = CRLCache._meta.db_table
    sql = f"SELECT crl_der FROM {table} WHERE issuer_id = %s"  # noqa: S608 - table name is ours
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, [issuer_id])
            return bytes(cursor.fetchone()[0] or b"")
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [issuer_id], binary=True)
        return bytes(cursor.fetchone()[0] or b"")


def _naive_utc(postgresql: bool) -> str:
    # Naive UTC, which cryptography and encode_entry read as UTC: Django's loader for aware timestamps is Python
    # code, ~8 us a row. SQLite's driver already gives naive UTC datetimes for Django's datetime columns.
    return "r.revoked_at AT TIME ZONE 'UTC'" if postgresql else "r.revoked_at"


_FROM_REVOCATIONS = f"""
    FROM {CertificateRevocation._meta.db_table} r
    JOIN {ManagedCertificate._meta.db_table} c ON c.id = r.certificate_id
    LEFT JOIN {CertificateProfile._meta.db_table} p ON p.id = c.profile_id
"""
# Short-lived certificates are left off the CRL: their expiry is their revocation.
_ON_CRL = "NOT (COALESCE(p.allow_short_lived, FALSE) AND p.max_ttl_seconds > 0 AND p.max_ttl_seconds < 3600)"


def _pending_revocations(postgresql: bool) -> str:
    return f"""
        SELECT r.id, r.serial_number, {_naive_utc(postgresql)}, r.reason, {_ON_CRL} {_FROM_REVOCATIONS}
        WHERE r.issuer_id = %s AND r.crl_entry IS NULL
    """


_ENTRIES_ON_CRL = f"""
    SELECT r.crl_entry {_FROM_REVOCATIONS} WHERE r.issuer_id = %s AND r.crl_entry IS NOT NULL AND {_ON_CRL}
"""


def etag_of(der: bytes) -> str:
    return 'W/"' + hashlib.sha256(der).digest()[:16].hex() + '"'


def current_crl(issuer_id: str, now: datetime | None = None) -> CRLCache:
    """The issuer's CRL: the stored one while fresh, else regenerated now (under the issuer lock)."""
    if "\x00" in issuer_id:  # PostgreSQL cannot compare it (DataError): no issuer has such an id
        raise IssuerNotFound(issuer_id)
    now = now or timezone.now()
    cached = CRLCache.objects.filter(issuer_id=issuer_id).first()
    if cached is not None and cached.is_fresh(now):
        return cached
    return regenerate(issuer_id, now=now, only_if_stale=True)


def regenerate(
    issuer_id: str,
    *,
    now: datetime | None = None,
    only_if_stale: bool = False,
    unless_generated_since: datetime | None = None,
    full: bool = False,
) -> CRLCache:
    """Sign a new CRL for the issuer and store it.

    The entries of the stored CRL are kept and the revocations no CRL has taken in yet are appended; the whole
    list is read again (`full`, or when the stored CRL is missing, signed by another CA certificate, or its count
    does not match the revocations). `only_if_stale`: keep a CRL that is still fresh (the request path).
    `unless_generated_since`: keep a CRL whose revocations were read after that moment (a regeneration queued by a
    revocation that another one already covered).
    """
    issuer = Issuer.objects.filter(pk=issuer_id).first()
    if issuer is None:
        raise IssuerNotFound(issuer_id)
    if issuer.type != IssuerType.LOCAL:
        raise CRLNotSupported(f"issuer {issuer_id} ({issuer.type}) is not a local CA")
    try:
        ca = load_ca(issuer)
    except CANotConfigured as exc:
        raise CRLNotSupported(str(exc)) from exc
    signed_by = ca.certificate.fingerprint(hashes.SHA256()).hex()

    with transaction.atomic():
        if not CRLCache.objects.filter(issuer_id=issuer_id).exists():
            CRLCache.objects.get_or_create(issuer_id=issuer_id)
        # The DER is read apart (in binary), and only when entries are kept.
        row = CRLCache.objects.select_for_update().defer("crl_der").get(issuer_id=issuer_id)
        fresh = (
            row.crl_number > 0 and row.next_update is not None and (now or timezone.now()) < row.next_update
        )
        if only_if_stale and fresh:
            return CRLCache.objects.get(issuer_id=issuer_id)
        if unless_generated_since and row.generated_at and row.generated_at >= unless_generated_since:
            return CRLCache.objects.get(issuer_id=issuer_id)
        started = time.perf_counter()
        read_at = timezone.now()
        this_update = now or read_at
        next_update = this_update + timedelta(seconds=settings.CRL_VALIDITY)
        appended, taken_in = encode_pending(issuer_id)
        seen = count_taken_in(issuer_id)
        # Appending needs a CRL of this CA that accounts for every other encoded revocation (none went missing).
        keep = not full and row.crl_number > 0 and row.signed_by == signed_by
        if keep and seen == row.revocations_seen + taken_in:
            entries = entries_of(_stored_crl(issuer_id)) + b"".join(appended)
            count = row.revoked_count + len(appended)
        else:
            keep = False
            listed = list(stream_entries(issuer_id))
            entries, count = b"".join(listed), len(listed)
        der = build_crl_from_entries(
            ca, entries, crl_number=row.crl_number + 1, this_update=this_update, next_update=next_update
        )
        fields = {
            "crl_der": der,
            "crl_number": row.crl_number + 1,
            "this_update": this_update,
            "next_update": next_update,
            "generated_at": read_at,
            "generation_duration_ms": round((time.perf_counter() - started) * 1000),
            "revoked_count": count,
            "revocations_seen": seen,
            "etag": etag_of(der),
            "signed_by": signed_by,
        }
        CRLCache.objects.filter(issuer_id=issuer_id).update(**fields)
        for name, value in fields.items():
            setattr(row, name, value)
    logger.info(
        "CRL generated",
        extra={
            "issuer_id": issuer_id,
            "crl_number": row.crl_number,
            "revoked_count": row.revoked_count,
            "appended": len(appended) if keep else None,
            "duration_ms": row.generation_duration_ms,
        },
    )
    return row


def regenerate_after_revocation(issuer_id: str, requested_at: datetime | None) -> None:
    """Queued after a revocation commits; skipped when a CRL read after that moment exists already."""
    try:
        regenerate(issuer_id, unless_generated_since=requested_at)
    except (IssuerNotFound, CRLNotSupported) as exc:
        logger.info("no CRL to regenerate", extra={"issuer_id": issuer_id, "reason": str(exc)})


def regenerate_all(now: datetime | None = None) -> int:
    """Re-sign the CRL of every enabled local CA (the beat task), each from the whole revocation list; returns how
    many were signed."""
    signed = 0
    for issuer_id in Issuer.objects.filter(type=IssuerType.LOCAL, enabled=True).values_list("id", flat=True):
        try:
            # In full: whatever the appends cannot see (a profile that became short-lived) is right again.
            regenerate(issuer_id, now=now, full=True)
            signed += 1
        except CRLNotSupported:
            continue
        except Exception:
            logger.exception("CRL generation failed", extra={"issuer_id": issuer_id})
    return signed
