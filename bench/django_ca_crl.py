"""django-ca 3.2 `dump_crl` on N revoked certificates, for bench/revocation.py to compare against.

Runs in its own virtualenv (django-ca pins its own Django), headless on SQLite in a temporary directory:
    python3 -m venv .tmp/djca-venv && .tmp/djca-venv/bin/pip install "django-ca==3.2.*"
    .tmp/djca-venv/bin/python bench/django_ca_crl.py 100000
Prints one line: `dump_crl <entries> <seconds>`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django
from django.conf import settings


def configure(workdir: Path) -> None:
    settings.configure(
        SECRET_KEY="bench-only",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.admin",
            "django.contrib.messages",
            "django.contrib.sessions",
            "django_object_actions",
            "django_ca",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "ca.sqlite3")}},
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            "django-ca": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(workdir / "keys")},
            },
        },
        CA_DEFAULT_HOSTNAME="",
        CA_ENABLE_ACME=False,
        ROOT_URLCONF=__name__,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    django.setup()


urlpatterns: list = []


def main(entries: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="djca-bench-"))
    configure(workdir)
    from django.core.management import call_command
    from django.urls import include, path
    from django_ca.models import Certificate, CertificateAuthority

    urlpatterns.append(path("django_ca/", include("django_ca.urls")))

    call_command("migrate", verbosity=0)
    call_command("init_ca", "bench", "CN=Bench CA", "--key-type", "EC", "--no-default-hostname", verbosity=0)
    ca = CertificateAuthority.objects.get(name="bench")
    now = datetime.now(UTC)
    pub = ca.pub  # any certificate will do as the stored DER: the CRL reads serial, date and reason only
    reasons = ["unspecified", "key_compromise", "superseded", "cessation_of_operation"]
    Certificate.objects.bulk_create(
        [
            Certificate(
                ca=ca,
                pub=pub,
                cn=f"svc{i}.bench.test",
                serial=f"7{i:038X}",
                not_before=now - timedelta(days=1),
                not_after=now + timedelta(days=90),
                revoked=True,
                revoked_date=now - timedelta(seconds=i),
                revoked_reason=reasons[i % 4],
            )
            for i in range(entries)
        ],
        batch_size=5000,
    )
    started = time.perf_counter()
    call_command("dump_crl", str(workdir / "crl.der"), "--ca", ca.serial, "--format", "DER")
    seconds = time.perf_counter() - started
    print(f"dump_crl {entries} {seconds:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
