"""What bench/issuance.py compares certctl with, measured in the same run: signing alone with `cryptography`
(the floor), and django-ca's sign_cert path (bench/issuance_djangoca.py in django-ca's own venv, asked to sign
round by round so that its rounds interleave with certctl's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


class DjangoCA:
    """django-ca's sign_cert path in its own venv (bench/issuance_djangoca.py --serve), signing on demand."""

    def __init__(self, python: str, count: int, database_url: str | None) -> None:
        import tempfile

        self.database = "PostgreSQL" if database_url else "SQLite"
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        command = [python, str(ROOT / "bench" / "issuance_djangoca.py"), "--count", str(count), "--serve"]
        if database_url:
            command += ["--database-url", database_url]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=ROOT
        )

    def _reply(self) -> dict:
        line = self._process.stdout.readline()
        if not line:
            self._stderr.seek(0)
            sys.exit(f"django-ca ({self.database}) stopped:\n{self._stderr.read()[-2000:]}")
        return json.loads(line)

    def ready(self) -> str:
        return self._reply()["version"]

    def sign(self, count: int) -> tuple[float, float]:
        self._process.stdin.write(f"{count}\n")
        self._process.stdin.flush()
        reply = self._reply()
        return reply["seconds"], reply["cpu_seconds"]

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=60)
        self._stderr.close()


def django_ca_database_url() -> str:
    """A fresh database for django-ca on the same PostgreSQL server, so both sides write through one server."""
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS certctl_bench_djangoca")
        conn.execute("CREATE DATABASE certctl_bench_djangoca")
    return urlunsplit(parts._replace(path="/certctl_bench_djangoca"))


def raw_cryptography(csrs: list[str]) -> float:
    """The floor: what signing alone costs with the same CA and extensions, no checks, no database."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

    from certctl.kernel.x509 import signature_hash
    from certificates.inventory.models import Issuer
    from certificates.issuance.issuers.local import cached_material

    ca = cached_material(Issuer.objects.get(name="bench-issuing"))
    algorithm = signature_hash(ca.private_key)
    ski_ca = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski_ca)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for pem in csrs:
        csr = x509.load_pem_x509_csr(pem.encode())
        assert csr.is_signature_valid
        names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        key = csr.public_key()
        (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca.certificate.subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
            .add_extension(aki, critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier("http://x/crl")], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier("http://x/ocsp"),
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(names, critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(ca.private_key, algorithm)
        )
    return time.perf_counter() - started
