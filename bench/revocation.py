"""Revocation benchmark: bulk revoke 10,000 certificates, sign a CRL of 100,000 entries, serve 5,000 OCSP answers.

Run against a throwaway PostgreSQL + Redis:
    VENV=/work/venv scripts/with-services.sh /work/venv/bin/python bench/revocation.py
Prints figures and ends with `figure NAME VALUE UNIT` lines; never fails on timing (targets: bulk revoke < 2 s,
CRL full rebuild < 1 s and after one more revocation < 0.3 s; OCSP over HTTP is bench/ocsp_http.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
# Production-like: DEBUG off (no per-query log), throwaway keys, plain HTTP on loopback.
os.environ.setdefault("CERTCTL_DEBUG", "false")
os.environ.setdefault("CERTCTL_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("CERTCTL_ENCRYPTION_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("CERTCTL_ALLOWED_HOSTS", "localhost")
os.environ.setdefault("CERTCTL_SSL_REDIRECT", "false")
os.environ.setdefault("CERTCTL_DATA_DIR", str(ROOT / ".tmp" / "bench-data"))

import django  # noqa: E402


def ensure_database() -> None:
    """with-services.sh starts an empty cluster: create the database named in DATABASE_URL if it is missing."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


ensure_database()
(Path(os.environ["CERTCTL_DATA_DIR"]) / "staticfiles").mkdir(parents=True, exist_ok=True)  # whitenoise's root
django.setup()

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.http_load import load_average  # noqa: E402
from certificates.inventory.models import (  # noqa: E402
    CertificateVersion,
    Issuer,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)
from certificates.issuance.issuers.ca_store import load_ca  # noqa: E402
from certificates.revocation.models import CertificateRevocation  # noqa: E402
from certificates.revocation.services import crl as crl_cache  # noqa: E402
from certificates.revocation.services.revoke import bulk_revoke, revoke_certificate  # noqa: E402
from certificates.revocation.wsgi import with_ocsp_fast_path  # noqa: E402
from notifications.models import NotificationEvent  # noqa: E402
from tests.revocation_support import make_local_ca  # noqa: E402

BULK = int(os.environ.get("BENCH_BULK", 10_000))
CRL_ENTRIES = int(os.environ.get("BENCH_CRL", 100_000))
OCSP_REQUESTS = int(os.environ.get("BENCH_OCSP", 5_000))
OCSP_SERIALS = 500
DJANGO_CA_PYTHON = Path(os.environ.get("DJANGO_CA_PYTHON", ROOT / ".tmp" / "djca-venv" / "bin" / "python"))


def make_ca() -> Issuer:
    return make_local_ca(f"Bench CA {secrets.token_hex(3)}").issuer


def seed_certificates(issuer: Issuer, count: int) -> tuple[Owner, list[int]]:
    """`count` certificates with one version each (bulk inserts: seeding is not what is measured)."""
    team = Team.objects.create(name=f"bench-{secrets.token_hex(3)}")
    owner = Owner.objects.create(name="Bench", email="bench@example.test", team=team)
    policy = RenewalPolicy.objects.create(name=f"bench-{secrets.token_hex(3)}")
    now = datetime.now(UTC)
    certs = ManagedCertificate.objects.bulk_create(
        [
            ManagedCertificate(
                name=f"bench-{owner.id}-{i}",
                common_name=f"svc{i}.bench.test",
                owner=owner,
                team=team,
                issuer=issuer,
                renewal_policy=policy,
                status="Active",
                expires_at=now + timedelta(days=60),
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    serials = [x509.random_serial_number() for _ in certs]
    CertificateVersion.objects.bulk_create(
        [
            CertificateVersion(
                certificate=cert,
                issuer=issuer,
                serial_number=format(serial, "040x"),
                not_before=now,
                not_after=now + timedelta(days=60),
                fingerprint_sha256=hashlib.sha256(serial.to_bytes(20, "big")).hexdigest(),
                pem_chain="-",
            )
            for cert, serial in zip(certs, serials, strict=True)
        ],
        batch_size=2000,
    )
    return owner, serials


def top_up_revocations(issuer: Issuer, total: int) -> None:
    """Fill the issuer's revocation table up to `total` rows with one INSERT … SELECT (random 159-bit serials)."""
    missing = total - CertificateRevocation.objects.filter(issuer=issuer).count()
    if missing <= 0:
        return
    anchor = (
        CertificateRevocation.objects.filter(issuer=issuer).values_list("certificate_id", flat=True).first()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {CertificateRevocation._meta.db_table}
                (id, certificate_id, issuer_id, serial_number, reason, revoked_by, revoked_at, issuer_notified,
                 created_at)
            SELECT 'rev-' || substr(md5(%s || g), 1, 26), %s, %s, '7' || lpad(to_hex(g), 39, '0'),
                   (ARRAY['unspecified','keyCompromise','superseded','cessationOfOperation'])[1 + g %% 4],
                   'bench', now() - (g || ' seconds')::interval, true, now()
            FROM generate_series(1, %s) AS g
            """,  # noqa: S608 - table name is ours
            [issuer.id, anchor, issuer.id, missing],
        )


def ocsp_requests(issuer: Issuer, serials: list[int]) -> list[bytes]:
    ca = load_ca(issuer).certificate
    name_hash = hashlib.sha1(ca.subject.public_bytes()).digest()  # noqa: S324 - OCSP CertID uses SHA-1
    key_hash = x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    return [
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash, key_hash, serial, hashes.SHA1())  # noqa: S303
        .build()
        .public_bytes(serialization.Encoding.DER)
        for serial in serials
    ]


def compare_django_ca(entries: int, ours: float) -> float | None:
    """django-ca 3.2 `dump_crl` on the same number of entries, in its own venv (see bench/django_ca_crl.py)."""
    if not DJANGO_CA_PYTHON.exists():
        print(f"django-ca: skipped ({DJANGO_CA_PYTHON} missing; see bench/django_ca_crl.py to create it)")
        return None
    out = subprocess.run(
        [str(DJANGO_CA_PYTHON), str(ROOT / "bench" / "django_ca_crl.py"), str(entries)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    last = out.stdout.strip().splitlines()[-1:] or [""]
    if out.returncode != 0 or not last[0].startswith("dump_crl "):
        print(f"django-ca: failed ({out.stderr.strip().splitlines()[-1:]})")
        return None
    seconds = float(last[0].split()[2])
    print(
        f"django-ca 3.2 dump_crl: {entries:,} entries in {seconds:.2f} s — certctl is {seconds / ours:.1f}x faster"
    )
    return seconds


def revoke_one_more(issuer: Issuer, owner: Owner) -> None:
    """One more certificate, issued and revoked through the single-revoke service."""
    now = datetime.now(UTC)
    cert = ManagedCertificate.objects.create(
        name=f"bench-more-{secrets.token_hex(4)}", common_name="more.bench.test", owner=owner, team=owner.team,
        issuer=issuer, renewal_policy=RenewalPolicy.objects.first(), status="Active",
        expires_at=now + timedelta(days=60),
    )  # fmt: skip
    serial = x509.random_serial_number()
    CertificateVersion.objects.create(
        certificate=cert, issuer=issuer, serial_number=format(serial, "040x"), not_before=now,
        not_after=now + timedelta(days=60), fingerprint_sha256=hashlib.sha256(serial.to_bytes(20, "big")).hexdigest(),
        pem_chain="-",
    )  # fmt: skip
    revoke_certificate(cert.id, "keyCompromise", actor="bench")


def check_crl(issuer: Issuer, appended: bytes, rebuilt: bytes) -> None:
    """The appended CRL verifies with openssl and lists exactly what a full rebuild lists."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "crl.der").write_bytes(appended)
        (Path(tmp) / "ca.pem").write_bytes(
            load_ca(issuer).certificate.public_bytes(serialization.Encoding.PEM)
        )
        out = subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-in", f"{tmp}/crl.der", "-CAfile", f"{tmp}/ca.pem", "-noout"],
            capture_output=True, text=True,
        )  # fmt: skip
    assert out.returncode == 0 and "verify OK" in out.stdout + out.stderr, out.stderr

    def entries(der: bytes) -> set:
        return {(e.serial_number, e.revocation_date_utc) for e in x509.load_der_x509_crl(der)}

    assert entries(appended) == entries(rebuilt), "appended CRL differs from a full rebuild"
    assert (
        len(x509.load_der_x509_crl(appended)) == CertificateRevocation.objects.filter(issuer=issuer).count()
    )


def main() -> None:
    call_command("migrate", verbosity=0)
    print(f"revocation benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"DB {connection.vendor}, load average {load_average()}")  # fmt: skip
    figures: dict[str, tuple[float, str]] = {}

    issuer = make_ca()
    owner, serials = seed_certificates(issuer, BULK)
    started = time.perf_counter()
    result = bulk_revoke({"owner_id": owner.id}, "keyCompromise", actor="bench")
    bulk_seconds = time.perf_counter() - started
    notifications = NotificationEvent.objects.filter(certificate__owner=owner).count()
    print(f"bulk revoke: {result.total_revoked:,} of {result.total_matched:,} certificates in {bulk_seconds:.2f} s "
          f"({result.total_revoked / bulk_seconds:,.0f}/s; {notifications:,} notifications queued) "
          f"— target < 2 s; reference 1,000 in < 30 s")  # fmt: skip
    figures[f"bulk_revoke_s_{size_name(BULK)}"] = (bulk_seconds, "s")

    top_up_revocations(issuer, CRL_ENTRIES)
    started = time.perf_counter()
    crl_cache.regenerate(issuer.id)  # the first CRL encodes and stores every entry once (as after an upgrade)
    print(
        f"CRL, first after the top-up (encodes {CRL_ENTRIES:,} entries once): {time.perf_counter() - started:.2f} s"
    )
    full, appended = [], []
    for _ in range(2):
        started = time.perf_counter()
        row = crl_cache.regenerate(issuer.id, full=True)
        full.append(time.perf_counter() - started)
        revoke_one_more(issuer, owner)
        started = time.perf_counter()
        row = crl_cache.regenerate(issuer.id)
        appended.append(time.perf_counter() - started)
    rebuilt = crl_cache.regenerate(issuer.id, full=True)
    check_crl(issuer, bytes(row.crl_der), bytes(rebuilt.crl_der))
    print(f"CRL: {row.revoked_count:,} entries, {len(bytes(row.crl_der)) / 1e6:.1f} MB DER; full rebuild "
          f"{min(full):.2f} s (runs {', '.join(f'{t:.2f}' for t in full)}) — target < 1 s; after one more "
          f"revocation {min(appended):.3f} s (runs {', '.join(f'{t:.3f}' for t in appended)}) — target < 0.3 s; "
          f"openssl verifies, same entries as a full rebuild")  # fmt: skip
    figures[f"crl_full_s_{size_name(CRL_ENTRIES)}"] = (min(full), "s")
    figures[f"crl_append_s_{size_name(CRL_ENTRIES)}"] = (min(appended), "s")
    timings = full

    djangoca = compare_django_ca(CRL_ENTRIES, min(timings))
    if djangoca:
        figures[f"crl_full_ratio_djangoca_dump_crl_{size_name(CRL_ENTRIES)}"] = (djangoca / min(timings), "x")

    # What gunicorn calls (certctl.wsgi): the OCSP fast path in front of Django, no test-client instrumentation.
    application = with_ocsp_fast_path(WSGIHandler())
    path = f"/.well-known/pki/ocsp/{issuer.id}"
    live = ocsp_requests(issuer, serials[:OCSP_SERIALS])
    started = time.perf_counter()
    for der in live:  # first answer per serial: signed live and cached
        post_wsgi(application, path, der)
    signing_rate = len(live) / (time.perf_counter() - started)
    started = time.perf_counter()
    # Many clients, as in production: each address stays far below the per-address limit, which still runs.
    answers = [
        post_wsgi(application, path, live[i % len(live)], f"10.0.{i // 256 % 256}.{i % 256}")
        for i in range(OCSP_REQUESTS)
    ]
    seconds = time.perf_counter() - started
    parsed = [ocsp.load_der_ocsp_response(body) for _, body in answers]
    refused = sum(r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL for r in parsed)
    assert refused == 0, f"{refused} OCSP answers were errors (rate limit?)"
    statuses = {r.certificate_status.name for r in parsed[:10]}
    http = {status for status, _ in answers}
    print(f"OCSP: {OCSP_REQUESTS:,} answers from cache in {seconds:.2f} s = {OCSP_REQUESTS / seconds:,.0f}/s "
          f"(certctl.wsgi's application: the OCSP fast path with the per-address limit, one process, {min(OCSP_REQUESTS, 65536):,} "
          f"client addresses; HTTP {sorted(http)}, statuses {sorted(statuses)}) "
          f"— target >= 1,000/s; live-signed first answers {signing_rate:,.0f}/s")  # fmt: skip
    figures["ocsp_cached_wsgi_per_s"] = (OCSP_REQUESTS / seconds, "responses/s")
    print(f"load average at the end: {load_average()}")
    for name, (value, unit) in figures.items():
        print(f"figure {name} {value:.4g} {unit}")


def size_name(n: int) -> str:
    """10000 -> 10k, 1000000 -> 1m: the suffix of a figure's name."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def post_wsgi(application, path: str, body: bytes, address: str = "127.0.0.1") -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": address,
        "CONTENT_TYPE": "application/ocsp-request",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    chunks = application(environ, lambda s, headers, exc_info=None: status.append(s))
    return status[0], b"".join(chunks)


if __name__ == "__main__":
    main()
