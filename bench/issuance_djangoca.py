"""django-ca 3.2's `sign_cert` path (`Certificate.objects.create_cert`) on the same workload, for comparison.

Run with the python of a separate venv that has django-ca (`pip install "django-ca>=3.2,<3.3"`); bench/issuance.py
calls it with --django-ca-python. It configures a throw-away Django project on SQLite (django-ca's headless
default) or, with --database-url, on the same PostgreSQL server certctl uses (install `psycopg[binary]` in that
venv too), so both write through the same database; it creates an EC P-256 root + intermediate with the DB key
backend and, timed, does what `manage.py sign_cert` does for each of `count` pre-made P-256 PEM CSRs: load the
PEM (sign_cert does not verify the CSR's signature; certctl does) and `create_cert` with the default profile.
Prints one JSON line: {"version", "database", "count", "seconds", "rate"}.

With --serve it signs on demand instead, so that bench/issuance.py can interleave it with certctl's runs (this
shared machine's speed drifts by tens of percent within a minute): after setup it prints {"ready": true}, then
for each line N read from stdin signs the next N CSRs and prints {"count", "seconds", "cpu_seconds"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit


def _database(data_dir: Path, url: str | None) -> dict:
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(data_dir / "ca.sqlite3")}
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def _configure(data_dir: Path, url: str | None) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.admin",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django_object_actions",
            "django_ca",
        ],
        DATABASES={"default": _database(data_dir, url)},
        USE_TZ=True,
        CA_DEFAULT_HOSTNAME="ca.bench.example.test",
        CA_KEY_BACKENDS={"default": {"BACKEND": "django_ca.key_backends.db.DBBackend"}},
        CA_OCSP_KEY_BACKENDS={"default": {"BACKEND": "django_ca.key_backends.db.DBOCSPBackend"}},
        CA_USE_CELERY=False,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        ROOT_URLCONF=__name__,  # django-ca reverses its URLs (CRL, issuer) while signing
    )
    django.setup()
    from django.urls import include, path

    globals()["urlpatterns"] = [path("django_ca/", include("django_ca.urls"))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty database (default: SQLite file)")
    parser.add_argument("--serve", action="store_true", help="sign N more CSRs per line N on stdin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _configure(Path(tmp), args.database_url)
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        from django.core.management import call_command
        from django_ca import __version__
        from django_ca.key_backends import key_backends
        from django_ca.key_backends.db.models import DBCreatePrivateKeyOptions, DBUsePrivateKeyOptions
        from django_ca.models import Certificate, CertificateAuthority

        call_command("migrate", verbosity=0)
        backend = key_backends["default"]
        now = datetime.now(UTC)
        name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
        root = CertificateAuthority.objects.init(
            "bench-root",
            backend,
            DBCreatePrivateKeyOptions(key_type="EC", elliptic_curve="secp256r1", password=None),
            subject=name("Bench Root"),
            not_after=now + timedelta(days=3650),
            key_type="EC",
            path_length=1,
        )
        issuing = CertificateAuthority.objects.init(
            "bench-issuing",
            backend,
            DBCreatePrivateKeyOptions(key_type="EC", elliptic_curve="secp256r1", password=None),
            subject=name("Bench Issuing"),
            not_after=now + timedelta(days=3000),
            key_type="EC",
            parent=root,
            use_parent_private_key_options=DBUsePrivateKeyOptions(),
        )
        csrs = []
        for i in range(args.count):
            key = ec.generate_private_key(ec.SECP256R1())
            cn = f"svc{i}.bench.example.test"
            csrs.append(
                (
                    cn,
                    x509.CertificateSigningRequestBuilder()
                    .subject_name(name(cn))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
                    .sign(key, hashes.SHA256())
                    .public_bytes(serialization.Encoding.PEM),
                )
            )
        options = DBUsePrivateKeyOptions()

        def sign(batch: list[tuple[str, bytes]]) -> None:
            for cn, pem in batch:
                # What `manage.py sign_cert` does with a PEM request: load it, then create_cert (no signature check).
                csr = x509.load_pem_x509_csr(pem)
                Certificate.objects.create_cert(
                    issuing, options, csr, subject=name(cn), not_after=timedelta(days=90)
                )

        if args.serve:
            print(json.dumps({"ready": True, "version": __version__}), flush=True)
            position = 0
            for line in sys.stdin:
                count = int(line)
                batch = csrs[position : position + count]
                position += count
                started, cpu = time.perf_counter(), time.process_time()
                sign(batch)
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                print(json.dumps({"count": len(batch), "seconds": seconds, "cpu_seconds": cpu}), flush=True)
            return
        started = time.perf_counter()
        sign(csrs)
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "version": __version__,
                "database": "PostgreSQL" if args.database_url else "SQLite",
                "count": args.count,
                "seconds": seconds,
                "rate": args.count / seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
