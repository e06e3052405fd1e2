"""A CRL of 100,000 revocations: streamed from PostgreSQL in chunks, signed once, served and parsed whole."""

from __future__ import annotations

import pytest
from cryptography import x509
from django.db import connection, connections

from certificates.revocation.models import CertificateRevocation, CRLCache
from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services.revoke import revoke_certificate
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db

ENTRIES = 100_000
REASONS = ["unspecified", "keyCompromise", "superseded", "cessationOfOperation"]


def add_revocations(ca, certificate_id: str, count: int) -> None:
    """`count` more revocation rows for the issuer in one INSERT … SELECT (serials 7000…0001, 7000…0002, …)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {CertificateRevocation._meta.db_table}
                (id, certificate_id, issuer_id, serial_number, reason, revoked_by, revoked_at, issuer_notified,
                 created_at)
            SELECT 'rev-scale' || g, %s, %s, '7' || lpad(to_hex(g), 39, '0'),
                   (ARRAY['unspecified','keyCompromise','superseded','cessationOfOperation'])[1 + g %% 4],
                   'test', now() - (g || ' seconds')::interval, true, now()
            FROM generate_series(1, %s) AS g
            """,  # noqa: S608 - table name is ours
            [certificate_id, ca.issuer.id, count],
        )


def test_a_crl_of_100000_revocations_is_streamed_signed_and_served(client, monkeypatch):
    ca = make_local_ca()
    cert, _, leaf = issue_leaf(ca)
    revoke_certificate(cert.id, "keyCompromise", actor="tester")
    add_revocations(ca, cert.id, ENTRIES - 1)

    fetches = []
    db = connections["default"]
    real_chunked_cursor = db.chunked_cursor

    class CountingCursor:
        def __init__(self, cursor):
            self.cursor = cursor

        def __enter__(self):
            self.cursor.__enter__()
            fetches.append(getattr(self.cursor.cursor, "name", None))  # psycopg names server-side cursors
            return self

        def __exit__(self, *exc):
            return self.cursor.__exit__(*exc)

        def execute(self, *args):
            return self.cursor.execute(*args)

        def fetchmany(self, size):
            rows = self.cursor.fetchmany(size)
            fetches.append(len(rows))
            return rows

    monkeypatch.setattr(db, "chunked_cursor", lambda: CountingCursor(real_chunked_cursor()))

    response = client.get(f"/.well-known/pki/crl/{ca.issuer.id}")
    assert response.status_code == 200
    cursor_name, *batches = fetches
    assert cursor_name  # a server-side cursor: PostgreSQL hands the rows over chunk by chunk
    assert batches == [crl_cache.STREAM_CHUNK] * (ENTRIES // crl_cache.STREAM_CHUNK) + [0]
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(ca.material.certificate.public_key())
    assert len(crl) == ENTRIES
    assert len({entry.serial_number for entry in crl}) == ENTRIES
    assert CRLCache.objects.get(issuer=ca.issuer).revoked_count == ENTRIES

    mine = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert (
        mine.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    for g in (1, 2, 3, ENTRIES - 1):
        entry = crl.get_revoked_certificate_by_serial_number(int("7" + format(g, "039x"), 16))
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert flag == x509.ReasonFlags[
            {"unspecified": "unspecified", "keyCompromise": "key_compromise", "superseded": "superseded",
             "cessationOfOperation": "cessation_of_operation"}[REASONS[g % 4]]
        ]  # fmt: skip

    again = client.get(f"/.well-known/pki/crl/{ca.issuer.id}", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
