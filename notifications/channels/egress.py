"""Where an HTTP delivery may go, and how it gets there.

A destination host is resolved once; every address it resolves to must be a public one (or inside
CERTCTL_NOTIFICATION_ALLOWED_NETWORKS), and the request then connects to one of exactly those addresses, so a
second DNS answer cannot send it elsewhere (DNS rebinding). TLS keeps SNI and certificate checks on the host
name. `Deadline` bounds a whole attempt: a receiver that trickles bytes cannot hold a worker past its lease.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class RefusedDestination(Exception):
    """The destination is not one a notification may reach; the message names the host and why, never the URL."""


class UnresolvedDestination(Exception):
    """The host name did not resolve (DNS may be down): worth trying again later."""


@lru_cache(maxsize=32)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in allowed)


def _embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64): each must pass the rule too."""
    if address.version == 4:
        return []
    found = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in NAT64_PREFIX:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [embedded for embedded in found if embedded is not None]


def _kind(address: Address) -> str | None:
    """What makes an address no place for a notification ("a loopback", ...), or None for a public address."""
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if address.is_multicast:
        return "a multicast"
    if address.is_unspecified:
        return "the unspecified"
    if address.version == 6 and address in UNIQUE_LOCAL:
        return "a unique-local"
    if address.is_private:
        return "a private"
    if not address.is_global:
        return "a non-public"
    return None


def refusal(address: Address, allowed: tuple[str, ...] = ()) -> str | None:
    """Why `address` may not be reached ("loopback", "private", ...), or None when it may."""
    networks = _networks(allowed)
    candidates = [*_embedded_ipv4(address), address]
    if any(candidate in network for candidate in candidates for network in networks):
        return None
    for candidate in candidates:
        kind = _kind(candidate)
        if kind is not None:
            if candidate == address:
                return f"{address} is {kind} address"
            return f"{address} carries {kind} address ({candidate})"
    return None


@dataclass(frozen=True)
class Destination:
    """A URL's host, vetted: `addresses` are the checked addresses to connect to, in resolver order."""

    scheme: str
    host: str
    port: int
    userinfo: str
    rest: tuple[str, str, str]  # path, query, fragment
    default_port: bool
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.default_port else f"{host}:{self.port}"

    def url_via(self, address: str) -> str:
        """The URL with its host replaced by a checked address, so the connection goes exactly there."""
        netloc = f"[{address}]" if ":" in address else address
        if not self.default_port:
            netloc = f"{netloc}:{self.port}"
        if self.userinfo:
            netloc = f"{self.userinfo}@{netloc}"
        return urlunsplit((self.scheme, netloc, *self.rest))


def vet(url: str, allowed: tuple[str, ...]) -> Destination:
    """Resolve the URL's host once and check every address; raise RefusedDestination or UnresolvedDestination."""
    # requests' own normalisation (IDNA host names, quoting), so the checked host is the one it would use.
    prepared = urlsplit(requests.Request("POST", url).prepare().url)
    host = prepared.hostname or ""
    if prepared.scheme not in ("http", "https") or not host:
        raise RefusedDestination(
            f"{host or 'the configured endpoint'}: only http and https URLs are delivered"
        )
    default = 443 if prepared.scheme == "https" else 80
    port = prepared.port or default
    try:
        # Numeric forms (2130706433, 0x7f.1, [::1]) resolve too, to the address they really mean.
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvedDestination(f"could not resolve {host}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        why = refusal(address, allowed)
        if why is not None:
            raise RefusedDestination(
                f"refused to deliver to {host}: {why}; allow it with CERTCTL_NOTIFICATION_ALLOWED_NETWORKS"
            )
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise UnresolvedDestination(f"could not resolve {host}")
    userinfo = prepared.netloc.rpartition("@")[0]
    rest = (prepared.path, prepared.query, prepared.fragment)
    return Destination(
        prepared.scheme, host, port, userinfo, rest, prepared.port in (None, default), tuple(addresses)
    )


# --- the whole-attempt deadline --------------------------------------------------------------------------

_current = threading.local()


class Deadline:
    """Arms a timer for one attempt; when it fires, the socket in use is shut down, which ends any blocked read."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self.connection: HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(self.expires - time.monotonic(), 0.0)

    def _fire(self) -> None:
        self.expired = True
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            # socket.socket's own shutdown, also for TLS: wakes the reader without touching OpenSSL state.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _current.deadline = None
        self.connection = None


class _Watched:
    """Tells the attempt's Deadline which connection carries it (new or reused from the keep-alive pool)."""

    def request(self, *args, **kwargs):
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.connection = self
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


class PinnedAdapter(HTTPAdapter):
    """Sends to the address in the URL (a vetted IP) while TLS checks the name in the Host header; its
    connections report to the attempt's Deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = request.headers.get("Host")
        if host and host_params["scheme"] == "https":
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            name = name.strip("[]")
            # Part of the pool key: a pool per (address, name), never a connection checked for another name.
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs
