"""OCSP over real HTTP: gunicorn (as the Procfile runs it) on loopback, driven by `wrk`, with and without a nonce.

    scripts/with-services.sh .venv/bin/python bench/ocsp_http.py [--workers 2] [--connections 16] [--seconds 10]

A fresh PostgreSQL database (as bench/api_inventory.py makes one) holds a local CA, 1,000 issued certificates of
which 250 are revoked, and 100 serials nobody issued. gunicorn serves certctl with production settings (DEBUG
off, the per-address OCSP limit on but set high: every request still counts in Redis). `wrk` (Debian package
`wrk`) sends POSTs of DER requests over keep-alive connections, cycling through the serials:

- nonce: every request carries a fresh 16-byte nonce (as `openssl ocsp` sends by default), so every answer is
  looked up and signed live;
- cached: no nonce (as browsers and most TLS stacks ask), so answers come from the response cache.

References measured in the same run: raw ECDSA P-256 signing in this process (one core), and the service call
`ocsp_cache.answer()` in-process (no HTTP, no middleware) for both kinds. Every answer wrk receives is checked
for a successful OCSP response (a Lua check of the response status bytes); a sample of 300 per kind is fetched
with `http.client` and fully verified (responder signature, responder issued by the CA, status per serial,
nonce echoed), and `openssl ocsp` checks one good and one revoked answer. Prints `figure` lines at the end.
Never fails on timing.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from bench.http_load import (  # noqa: E402
    free_port,
    load_average,
    production_like_environment,
    run_wrk,
    start_gunicorn,
)

production_like_environment("certctl-ocsp-bench-")
os.environ["CERTCTL_OCSP_RATE_LIMIT_PER_IP_MIN"] = (
    "1000000000"  # on, but every request still counted in Redis
)

from bench.api_inventory import django_on_a_fresh_database, drop_database  # noqa: E402

ISSUED = 1000
REVOKED = 250
UNKNOWN = 100
SAMPLE = 300


def make_ca():
    from tests.revocation_support import make_local_ca

    ca = make_local_ca("OCSP Bench CA")
    return ca.issuer, ca.material.certificate


def seed(issuer) -> dict[int, str]:
    """Serial -> expected status: ISSUED certificates with a version each, REVOKED of them revoked."""
    from cryptography import x509

    from certificates.inventory.models import CertificateVersion, ManagedCertificate
    from certificates.revocation.services.revoke import bulk_revoke
    from tests.factories import OwnerFactory, RenewalPolicyFactory

    owner, policy = OwnerFactory(), RenewalPolicyFactory()
    now = datetime.now(UTC)
    certs = ManagedCertificate.objects.bulk_create(
        ManagedCertificate(
            name=f"ocsp-{i}", common_name=f"svc{i}.bench.test", owner=owner, team=owner.team, issuer=issuer,
            renewal_policy=policy, status="Active", expires_at=now + timedelta(days=60),
        )
        for i in range(ISSUED)
    )  # fmt: skip
    serials = [x509.random_serial_number() for _ in certs]
    CertificateVersion.objects.bulk_create(
        CertificateVersion(
            certificate=cert, issuer=issuer, serial_number=format(serial, "040x"), not_before=now,
            not_after=now + timedelta(days=60), fingerprint_sha256=secrets.token_hex(32), pem_chain="-",
        )
        for cert, serial in zip(certs, serials, strict=True)
    )  # fmt: skip
    bulk_revoke(
        {"certificate_ids": [c.id for c in certs[:REVOKED]]},
        "keyCompromise",
        actor="bench",
        chunk_size=REVOKED,
    )
    expected = {serial: ("revoked" if i < REVOKED else "good") for i, serial in enumerate(serials)}
    expected.update({x509.random_serial_number(): "unknown" for _ in range(UNKNOWN)})
    return expected


def request_der(ca_cert, serial: int, nonce: bytes | None) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        _name_hash(ca_cert),
        _key_hash(ca_cert),
        serial,
        hashes.SHA1(),  # noqa: S303 - what clients send
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _name_hash(ca_cert) -> bytes:
    import hashlib

    return hashlib.sha1(ca_cert.subject.public_bytes()).digest()  # noqa: S324 - the CertID hash


def _key_hash(ca_cert) -> bytes:
    from cryptography import x509

    return x509.SubjectKeyIdentifier.from_public_key(ca_cert.public_key()).digest


def post(connection: http.client.HTTPConnection, path: str, body: bytes) -> bytes:
    connection.request("POST", path, body, {"Content-Type": "application/ocsp-request", "Host": "localhost"})
    response = connection.getresponse()
    assert response.status == 200, response.status
    return response.read()


def verify_sample(port: int, path: str, ca_cert, expected: dict[int, str], nonce: bool) -> int:
    """Fetch SAMPLE answers over HTTP and check each one completely; returns how many were checked."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    serials = random.Random(7).sample(sorted(expected), SAMPLE)
    for serial in serials:
        sent = secrets.token_bytes(16) if nonce else None
        response = ocsp.load_der_ocsp_response(post(connection, path, request_der(ca_cert, serial, sent)))
        assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert response.serial_number == serial
        assert response.certificate_status.name.lower() == expected[serial], (serial, expected[serial])
        responder = response.certificates[0]
        responder.verify_directly_issued_by(ca_cert)
        responder.public_key().verify(
            response.signature, response.tbs_response_bytes, ec.ECDSA(response.signature_hash_algorithm)
        )
        got = [e.value.nonce for e in response.extensions if e.oid.dotted_string == "1.3.6.1.5.5.7.48.1.2"]
        assert got == ([sent] if nonce else []), "nonce not echoed"
    connection.close()
    return len(serials)


def openssl_check(port: int, issuer_id: str, ca_cert, expected: dict[int, str]) -> str:
    """`openssl ocsp` (with its default nonce) for one good and one revoked serial, verified against the CA."""
    from cryptography.hazmat.primitives import serialization

    with tempfile.TemporaryDirectory() as tmp:
        ca_pem = Path(tmp) / "ca.pem"
        ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        seen = []
        for status in ("good", "revoked"):
            serial = next(s for s, e in expected.items() if e == status)
            out = subprocess.run(
                ["openssl", "ocsp", "-issuer", ca_pem, "-serial", str(serial), "-CAfile", ca_pem,
                 "-url", f"http://127.0.0.1:{port}/.well-known/pki/ocsp/{issuer_id}"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            text = out.stdout + out.stderr
            assert "Response verify OK" in text and f": {status}" in text, text
            seen.append(status)
    return " and ".join(seen)


def in_process_references(issuer_id: str, ca_cert, expected: dict[int, str]) -> dict[str, float]:
    """Raw P-256 signing, and ocsp_cache.answer() with and without a nonce, in this process (one core)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certificates.revocation.services import ocsp_cache

    key = ec.generate_private_key(ec.SECP256R1())
    tbs = secrets.token_bytes(400)
    rates = {}
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 2:
        key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        count += 1
    rates["raw_sign"] = count / (time.perf_counter() - started)
    serials = sorted(expected)
    for name, nonce in (("service_nonce", True), ("service_cached", False)):
        ders = [request_der(ca_cert, s, secrets.token_bytes(16) if nonce else None) for s in serials]
        if not nonce:  # fill the response cache first: the figure is for answers served from it
            for der in ders:
                ocsp_cache.answer(issuer_id, der)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2:
            result = ocsp_cache.answer(issuer_id, ders[count % len(ders)])
            assert result.status in ("good", "revoked", "unknown"), result.status
            count += 1
        rates[name] = count / (time.perf_counter() - started)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (Procfile: 2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=0, help="gthread workers with this many threads (keep-alive); 0: sync"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/ocsp_http.py needs wrk (apt-get install wrk)")

    url, admin = django_on_a_fresh_database()
    os.environ["CERTCTL_DEBUG"] = "false"
    gunicorn = None
    try:
        from django.db import connections

        issuer, ca_cert = make_ca()
        expected = seed(issuer)
        path = f"/.well-known/pki/ocsp/{issuer.id}"
        print(f"OCSP over HTTP — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, gunicorn "
              f"{args.workers} {'gthread' if args.threads else 'sync'} workers{f' x {args.threads} threads' if args.threads else ''}, wrk 1 thread {args.connections} connections {args.seconds} s; "
              f"{ISSUED:,} issued, {REVOKED:,} revoked, {UNKNOWN} unknown serials; load average {load_average()}")  # fmt: skip

        references = in_process_references(issuer.id, ca_cert, expected)
        connections.close_all()

        with tempfile.TemporaryDirectory() as tmp:
            plain, nonced = Path(tmp) / "plain.hex", Path(tmp) / "nonce.hex"
            marker = b"\xa5" * 16
            plain.write_text("\n".join(request_der(ca_cert, s, None).hex() for s in expected) + "\n")
            nonced.write_text(
                "\n".join(request_der(ca_cert, s, marker).hex().replace(marker.hex(), "N") for s in expected)
                + "\n"
            )
            port = free_port()
            floor_port = free_port()
            floor = start_gunicorn(floor_port, args.workers, "bench.http_load:floor_app", args.threads)
            try:
                results_floor = run_wrk(floor_port, path, plain, False, args.connections, args.seconds)
            finally:
                os.killpg(floor.pid, signal.SIGTERM)
                floor.wait(timeout=30)
            gunicorn = start_gunicorn(port, args.workers, threads=args.threads)
            # Warm up every worker (imports, responder key, connections) and fill the response cache.
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for line in plain.read_text().split():
                post(connection, path, bytes.fromhex(line))
            connection.close()
            run_wrk(port, path, nonced, True, args.connections, 2)

            results = {}
            for name, nonce, bodies in (("nonce", True, nonced), ("cached", False, plain)):
                results[name] = run_wrk(port, path, bodies, nonce, args.connections, args.seconds)
                results[name]["verified"] = verify_sample(port, path, ca_cert, expected, nonce)
            checked = openssl_check(port, issuer.id, ca_cert, expected)
            load = load_average()

        print(f"references in this process (one core): raw P-256 signing {references['raw_sign']:,.0f} /s; "
              f"ocsp_cache.answer() with a nonce {references['service_nonce']:,.0f} /s, from the cache "
              f"{references['service_cached']:,.0f} /s")  # fmt: skip
        for name, result in results.items():
            print(f"  {name:<7} {result['rate']:>8,.0f} answers/s over HTTP  p50 {result.get('p50_ms', 0):.2f} ms  "
                  f"p99 {result.get('p99_ms', 0):.2f} ms  ({result['requests']:,} requests, {result['bad']} not "
                  f"successful, {result['non2xx']} non-2xx, socket errors {result['errors']}; "
                  f"{result['verified']} fully verified)")  # fmt: skip
        print(
            f"  floor   {results_floor['rate']:>8,.0f} responses/s: the same gunicorn and wrk, a fixed body, no work"
        )
        print(f"  openssl ocsp verified a {checked} answer")
        print(f"  nonce over HTTP / raw signing: {results['nonce']['rate'] / references['raw_sign']:.2f}; "
              f"cached over HTTP / cached in-process: "
              f"{results['cached']['rate'] / references['service_cached']:.2f}")  # fmt: skip
        print(f"load average at the end: {load}")
        print(f"figure ocsp_nonce_http_per_s {results['nonce']['rate']:.0f} answers/s")
        print(f"figure ocsp_cached_http_per_s {results['cached']['rate']:.0f} answers/s")
        print(f"figure ocsp_nonce_http_p99_ms {results['nonce'].get('p99_ms', 0):.2f} ms")
        print(f"figure ocsp_cached_http_p99_ms {results['cached'].get('p99_ms', 0):.2f} ms")
        print(f"figure ocsp_http_floor_per_s {results_floor['rate']:.0f} responses/s")
        print(f"figure ocsp_raw_sign_per_s {references['raw_sign']:.0f} signatures/s")
        print(
            f"figure ocsp_nonce_http_vs_raw_sign {results['nonce']['rate'] / references['raw_sign']:.2f} ratio"
        )
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        drop_database(admin, urlsplit(url).path.lstrip("/"))


if __name__ == "__main__":
    main()
