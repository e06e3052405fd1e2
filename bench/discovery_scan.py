"""Benchmark of network discovery scans: loopback TLS listeners, silent listeners and closed addresses, scanned
through the real service path (chunks, `certificates.scan_chunk` in eager mode, record, PostgreSQL).

    scripts/with-services.sh .venv/bin/python bench/discovery_scan.py [--listeners 200] [--silent 20]

A fleet process serves `--listeners` TLS servers (each its own certificate, one CA) on 127.2.0.1... and `--silent`
listeners that accept TCP and never answer on the addresses after them, all on one port; the rest of 127.2.0.0/23
refuses. The scanner, in another process on a fresh database, runs:
  1. the mixed range 127.2.0.0/23 (512 targets): every listener recorded, every silent one an error;
  2. a /16 of loopback addresses with nothing listening (127.1.0.0/16 on one port, 65,536 targets);
and, as the reference measured in the same run, a plain sequential `connect()` loop over the same /16.
A benchmark, not a test: it never fails on timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import multiprocessing
import os
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MIXED = "127.2.0.0/23"
SLASH16 = "127.1.0.0/16"
FLEET_BASE = int(ipaddress.IPv4Address("127.2.0.1"))


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
    import django

    django.setup()


def _certificates(count: int, workdir: Path) -> list[tuple[Path, Path]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Bench CA"))
        .issuer_name(name("Bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = []
    for index in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"host{index}.bench.test"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90))
            .sign(ca_key, hashes.SHA256())
        )
        chain, key_path = workdir / f"{index}.pem", workdir / f"{index}.key"
        chain.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        files.append((chain, key_path))
    return files


def _fleet(listeners: int, silent: int, port: int, ready, stop) -> None:
    """TLS servers on 127.2.0.1.. and silent ones after them, one selector thread accepting for all."""
    with tempfile.TemporaryDirectory() as tmp:
        files = _certificates(listeners, Path(tmp))
        contexts = []
        for chain, key in files:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain, key)
            contexts.append(context)
    selector = selectors.DefaultSelector()
    held = []
    for index in range(listeners + silent):
        address = str(ipaddress.IPv4Address(FLEET_BASE + index))
        sock = socket.create_server((address, port), backlog=1024)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, contexts[index] if index < listeners else None)

    def handshake(context, conn) -> None:
        conn.settimeout(10)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass
        finally:
            conn.close()

    ready.set()
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.2):
            try:
                conn, _ = key.fileobj.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            if key.data is None:
                held.append(conn)  # accepted, never spoken to: the client's handshake times out
            else:
                threading.Thread(target=handshake, args=(key.data, conn), daemon=True).start()


def _timed_scan(
    targets: list[str], ports: list[int], timeout_ms: int, concurrency: int, chunk_size: int
) -> dict:
    from django.db import connection

    from certctl.celery import app
    from certificates.discovery.services import scans

    app.conf.task_always_eager = True  # each chunk's task runs in this process: one worker
    started = time.perf_counter()
    run = scans.start_adhoc_run(
        targets, ports, scans.ScanSettings(timeout_ms, concurrency, chunk_size), requested_by="bench"
    )
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    connection.close()
    return {
        "seconds": round(seconds, 3),
        "status": run.status,
        "targets": run.targets_total,
        "done": run.targets_done,
        "found": run.found,
        "new": run.new_certificates,
        "errors": run.errors,
        "chunks": run.chunks_total,
    }


def _sequential_connects(network: str, port: int) -> float:
    """The reference: one plain TCP connect after another over the same targets."""
    started = time.perf_counter()
    for address in ipaddress.IPv4Network(network):
        with socket.socket() as sock:
            sock.settimeout(1)
            sock.connect_ex((str(address), port))
    return time.perf_counter() - started


def scan(port: int, timeout_ms: int, concurrency: int, chunk_size: int) -> dict:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    mixed = _timed_scan([MIXED], [port], timeout_ms, concurrency, chunk_size)
    slash16 = _timed_scan([SLASH16], [port], timeout_ms, concurrency, chunk_size)
    reference = _sequential_connects(SLASH16, port)
    return {"mixed": mixed, "slash16": slash16, "reference_seconds": round(reference, 3)}


def _database_url(name: str) -> str:
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


def _recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.2.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--silent", type=int, default=20)
    parser.add_argument("--timeout-ms", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=512)
    parser.add_argument("--scan-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scan_port:
        print(json.dumps(scan(args.scan_port, args.timeout_ms, args.concurrency, args.chunk_size)))
        return
    if "DATABASE_URL" not in os.environ:
        sys.exit("run it through scripts/with-services.sh (needs DATABASE_URL of a PostgreSQL server)")
    if args.listeners + args.silent > 512:
        sys.exit("at most 512 listeners and silent ones together (127.2.0.0/23)")

    from cryptography.fernet import Fernet

    port = _free_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    fleet = multiprocessing.Process(
        target=_fleet, args=(args.listeners, args.silent, port, ready, stop), daemon=True
    )
    fleet.start()
    if not ready.wait(120):
        sys.exit("the listener fleet did not start")
    database = "certctl_bench_discovery"
    _recreate_database(database)
    env = {**os.environ, "DATABASE_URL": _database_url(database), "CERTCTL_DEBUG": "false"}
    env.setdefault("CERTCTL_SECRET_KEY", "bench-only-" + Fernet.generate_key().decode())
    env.setdefault("CERTCTL_ENCRYPTION_KEY", Fernet.generate_key().decode())
    env.setdefault("CERTCTL_DATA_DIR", str(ROOT / ".tmp" / "bench"))
    command = [sys.executable, __file__, "--scan-port", str(port), "--timeout-ms", str(args.timeout_ms),
               "--concurrency", str(args.concurrency), "--chunk-size", str(args.chunk_size)]  # fmt: skip
    try:
        out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    finally:
        stop.set()
        fleet.join(10)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    mixed, slash16, reference = result["mixed"], result["slash16"], result["reference_seconds"]

    print(
        f"discovery scan benchmark: {args.listeners} TLS listeners + {args.silent} silent ones on port {port}, "
        f"timeout {args.timeout_ms} ms, concurrency {args.concurrency}, chunks of {args.chunk_size}, one worker"
    )
    print(f"\n{MIXED} ({mixed['targets']} targets, {mixed['chunks']} chunk(s)): {mixed['seconds']:.2f} s, "
          f"{mixed['targets'] / mixed['seconds']:,.0f} targets/s")  # fmt: skip
    print(f"  status {mixed['status']}, done {mixed['done']}, found {mixed['found']}, new {mixed['new']}, "
          f"errors {mixed['errors']} (the silent listeners)")  # fmt: skip
    print(f"\n{SLASH16} ({slash16['targets']:,} targets, {slash16['chunks']} chunks, nothing listening): "
          f"{slash16['seconds']:.2f} s, {slash16['targets'] / slash16['seconds']:,.0f} targets/s, "
          f"status {slash16['status']}, done {slash16['done']:,}, errors {slash16['errors']}")  # fmt: skip
    print(f"reference, a plain sequential connect() loop over the same /16: {reference:.2f} s, "
          f"{slash16['targets'] / reference:,.0f} connects/s")  # fmt: skip
    print(f"figure discovery_targets_per_s {mixed['targets'] / mixed['seconds']:.0f} targets/s")
    print(f"figure discovery_slash16_s {slash16['seconds']:.2f} s")
    print(f"figure discovery_slash16_targets_per_s {slash16['targets'] / slash16['seconds']:.0f} targets/s")
    print(f"figure discovery_slash16_vs_sequential_connect {reference / slash16['seconds']:.2f} ratio")


if __name__ == "__main__":
    main()
