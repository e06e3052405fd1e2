"""Certificates made in the test, and loopback TLS servers (Python `ssl`) that present them, for discovery tests.

`Pki` makes a root, an intermediate and leaves with any key, hash and validity; `tls_server(...)` serves a chosen
chain (optionally per SNI name) on 127.0.0.1 at security level 0, so RSA-1024 and SHA-1 certificates still load.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_key(kind: str = "ec"):
    """ "ec" (P-256), "ec384", "rsa1024", "rsa2048", ..."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:] or 2048))
    return ec.generate_private_key(ec.SECP384R1() if kind == "ec384" else ec.SECP256R1())


@dataclass
class Issued:
    cert: x509.Certificate
    key: object

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def issue(
    cn: str,
    *,
    signer: Issued | None = None,
    key_kind: str = "ec",
    sans: list[str] | None = None,
    ca: bool = False,
    hash_name: str = "sha256",
    not_before: dt.datetime | None = None,
    days: int = 90,
) -> Issued:
    """A certificate for `cn`, signed by `signer` (self-signed without one)."""
    key = make_key(key_kind)
    start = not_before or NOW - dt.timedelta(days=1)
    issuer_name = signer.cert.subject if signer else _name(cn)
    signing_key = signer.key if signer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = sans if sans is not None else [cn]
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
    if hash_name == "sha1":  # cryptography refuses to sign with SHA-1; OpenSSL itself still can
        return Issued(_resign_sha1(builder.sign(signing_key, hashes.SHA256()), signing_key), key)
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name]
    return Issued(builder.sign(signing_key, algorithm), key)


def _resign_sha1(cert: x509.Certificate, signing_key) -> x509.Certificate:
    from OpenSSL import crypto  # pyOpenSSL comes with acme; only this helper needs it

    legacy = crypto.X509.from_cryptography(cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy.sign(crypto.PKey.from_cryptography_key(signing_key), "sha1")
    return legacy.to_cryptography()


@dataclass
class Pki:
    """A root and an intermediate to issue leaves from."""

    root: Issued = field(default_factory=lambda: issue("Discovery Test Root", ca=True, days=3650))
    intermediate: Issued | None = None

    def __post_init__(self) -> None:
        if self.intermediate is None:
            self.intermediate = issue("Discovery Test Issuing CA", signer=self.root, ca=True, days=1825)

    def leaf(self, cn: str, **kwargs) -> Issued:
        return issue(cn, signer=self.intermediate, **kwargs)


def _context(chain: list[Issued], key) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp, "chain.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(b"".join(item.pem for item in chain))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context.load_cert_chain(cert_path, key_path)
    return context


@contextlib.contextmanager
def tls_server(
    chain: list[Issued], *, by_sni: dict[str, list[Issued]] | None = None, host: str = "127.0.0.1"
):
    """Serve `chain` (leaf first, exactly as given: wrong orders and missing intermediates included) on
    (host, port); with `by_sni`, a client asking for one of those names gets that chain instead.
    Yields the port. Each connection completes the handshake, then is closed."""
    default = _context(chain, chain[0].key)
    named = {name: _context(items, items[0].key) for name, items in (by_sni or {}).items()}

    def pick(sslobj, server_name, _context_now):
        if server_name in named:
            sslobj.context = named[server_name]

    default.sni_callback = pick
    listener = socket.create_server((host, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_handshake, args=(default, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)


def _handshake(context: ssl.SSLContext, conn: socket.socket) -> None:
    conn.settimeout(5)
    try:
        with context.wrap_socket(conn, server_side=True) as tls, contextlib.suppress(OSError):
            tls.recv(1)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


@contextlib.contextmanager
def silent_server(host: str = "127.0.0.1"):
    """Accepts TCP connections and never says a word: a handshake against it times out. Yields the port."""
    listener = socket.create_server((host, 0), backlog=512)
    held: list[socket.socket] = []
    stop = threading.Event()
    listener.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        for conn in held:
            conn.close()
        thread.join(timeout=2)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
