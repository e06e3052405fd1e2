"""The rows a revocation writes or drops beside the certificate's own: revocation records and cached OCSP answers."""

from __future__ import annotations

from django.db import connection

from certctl.kernel.bulk_insert import unnest_statement
from certctl.kernel.x509 import serial_hex as canonical_serial
from certificates.revocation.models import CertificateRevocation, OCSPResponseCache
from certificates.revocation.services import ocsp_memo


def insert_revocations(rows: list[CertificateRevocation]) -> None:
    """Insert the rows, skipping serials revoked before; on PostgreSQL one array per column (`bulk_create`
    prepared every value of every row through the model fields: most of a 10,000-certificate bulk revoke)."""
    if connection.vendor != "postgresql":
        CertificateRevocation.objects.bulk_create(rows, ignore_conflicts=True)
        return
    columns = ("id", "certificate_id", "issuer_id", "serial_number", "issuer_notified")
    sql, params = unnest_statement(
        CertificateRevocation,
        {name: [getattr(row, name) for row in rows] for name in columns},
        constants={
            "reason": rows[0].reason,
            "revoked_by": rows[0].revoked_by,
            "revoked_at": rows[0].revoked_at,
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(sql + " ON CONFLICT (issuer_id, serial_number) DO NOTHING", params)


def drop_ocsp_cache(by_issuer: dict[str, list[str]]) -> None:
    """Forget the serials' OCSP answers: the cached rows, this process's memo, and (by moving the shared epoch in
    the caller's transaction) every other process's memo at its next poll."""
    for issuer_id, serials in by_issuer.items():
        spellings = {canonical_serial(int(s, 16)) for s in serials}
        OCSPResponseCache.objects.filter(issuer_id=issuer_id, serial_hex__in=spellings).delete()
        ocsp_memo.forget(issuer_id, spellings)
    if by_issuer:
        ocsp_memo.status_changed()
