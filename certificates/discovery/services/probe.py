"""One TLS handshake against one target, and nothing else: no HTTP, no redirects, no data after the handshake.

The client accepts anything so old and weak servers still answer (no verification, security level 0, the lowest
protocol version OpenSSL allows): a scan records what is served, it does not trust it.

The chain is read with the standard library's `_sslobj.get_unverified_chain()` (OpenSSL's
SSL_get_peer_cert_chain: every certificate in the order the server sent it), present in CPython since 3.10 and
public as `SSLSocket.get_unverified_chain()` from 3.13. pyOpenSSL would give the same chain, but it is only a
transitive dependency (of acme) and its SSL module is deprecated upstream; the stdlib keeps one TLS stack.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509

from certificates.discovery.services.targets import Probe


class Outcome(StrEnum):
    FOUND = "found"  # a handshake presented a certificate
    CLOSED = "closed"  # refused or unreachable: nothing there, not an error
    NO_ANSWER = "no_answer"  # the TCP connect timed out: an unused address, not an error
    TIMEOUT = "timeout"  # connected, but no handshake within the timeout: an error
    HANDSHAKE_FAILED = "handshake_failed"  # connected, spoke, no TLS (or TLS we cannot agree on): an error
    UNRESOLVED = "unresolved"  # a name with no address: an error in the profile


ERRORS = frozenset({Outcome.TIMEOUT, Outcome.HANDSHAKE_FAILED, Outcome.UNRESOLVED})


@dataclass
class ProbeResult:
    probe: Probe
    outcome: Outcome
    address: str = ""  # the address connected to (a name's resolved address)
    protocol: str = ""  # TLSv1.3, ...
    chain: list[x509.Certificate] = field(default_factory=list)  # leaf first, as presented
    error: str = ""
    seen_at: float = 0.0  # time.time() of the handshake


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


_CONTEXT = client_context()


def _addresses(probe: Probe) -> list[tuple]:
    if not probe.is_name:  # an address literal: no resolver call on the hot path of a range sweep
        family = socket.AF_INET6 if ":" in probe.host else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 0, "", (probe.host, probe.port))]
    return socket.getaddrinfo(probe.host, probe.port, type=socket.SOCK_STREAM)


def _connect(probe: Probe, deadline: float) -> tuple[socket.socket | None, ProbeResult | None]:
    try:
        infos = _addresses(probe)
    except (socket.gaierror, UnicodeError) as exc:
        return None, ProbeResult(probe, Outcome.UNRESOLVED, error=f"cannot resolve {probe.host}: {exc}"[:255])
    outcome = Outcome.CLOSED
    last = ""
    for family, kind, proto, _, sockaddr in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            outcome = Outcome.NO_ANSWER
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            outcome, last = Outcome.NO_ANSWER, "connect timed out"
            continue
        except OSError as exc:
            sock.close()
            last = exc.strerror or str(exc)
            continue
        return sock, None
    address = infos[0][4][0] if infos else ""
    return None, ProbeResult(probe, outcome, address=address, error=last)


def handshake(probe: Probe, timeout: float, context: ssl.SSLContext | None = None) -> ProbeResult:
    """Connect and shake hands within `timeout` seconds (connect and handshake together); never raises."""
    try:
        return _handshake(probe, timeout, context)
    # Whatever a peer does (a reset before getpeername, ...) is an outcome, not a crash.
    except Exception as exc:
        return ProbeResult(probe, Outcome.HANDSHAKE_FAILED, error=f"{type(exc).__name__}: {exc}"[:255])


def _handshake(probe: Probe, timeout: float, context: ssl.SSLContext | None) -> ProbeResult:
    deadline = time.monotonic() + timeout
    sock, failed = _connect(probe, deadline)
    if failed is not None:
        return failed
    address = sock.getpeername()[0]
    try:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        with (context or _CONTEXT).wrap_socket(sock, server_hostname=probe.sni or None) as tls:
            der_chain = _presented(tls)
            protocol = tls.version() or ""
    except TimeoutError:
        return ProbeResult(
            probe, Outcome.TIMEOUT, address=address, error="no TLS handshake within the timeout"
        )
    except (ssl.SSLError, OSError) as exc:
        return ProbeResult(probe, Outcome.HANDSHAKE_FAILED, address=address, error=str(exc)[:255])
    finally:
        sock.close()
    try:
        chain = [x509.load_der_x509_certificate(der) for der in der_chain]
    except ValueError as exc:
        return ProbeResult(probe, Outcome.HANDSHAKE_FAILED, address=address, error=f"unreadable: {exc}"[:255])
    if not chain:
        return ProbeResult(probe, Outcome.HANDSHAKE_FAILED, address=address, error="no certificate presented")
    return ProbeResult(
        probe, Outcome.FOUND, address=address, protocol=protocol, chain=chain, seen_at=time.time()
    )


def _presented(tls: ssl.SSLSocket) -> list[bytes]:
    chain = tls._sslobj.get_unverified_chain() or []
    if chain:
        return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in chain]
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []
