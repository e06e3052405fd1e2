"""What a DNS provider is (publish and remove one TXT record), and the small checks its settings share."""

from __future__ import annotations

import ipaddress
import socket
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from certificates.issuance.issuers.base import IssuerError

DEFAULT_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 600


class DnsProvider(ABC):
    """Publishes and removes the `_acme-challenge` TXT records of DNS-01; raises IssuerError when it cannot.

    `name` is what `config.dns.provider` says; `config_problems` and `secret_problems` check the settings before
    they are stored (keys are dotted paths into the issuer's config or secrets, values sentences).
    """

    name: ClassVar[str]

    def __init__(self, dns_config: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.timeout_seconds: int = dns_config.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)

    @classmethod
    @abstractmethod
    def config_problems(cls, dns_config: dict[str, Any]) -> dict[str, str]: ...

    @classmethod
    def secret_problems(cls, secrets: dict[str, Any]) -> dict[str, str]:
        return {}

    @abstractmethod
    def present(self, name: str, value: str) -> None:
        """Publish the TXT record `name` (no trailing dot) with `value`, next to any others of that name."""

    @abstractmethod
    def cleanup(self, name: str, value: str) -> None:
        """Remove the TXT record `name` with `value` (and only that value); absent already is fine."""


def timeout_problems(dns_config: dict[str, Any]) -> dict[str, str]:
    timeout = dns_config.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        return {
            "dns.timeout_seconds": f"dns.timeout_seconds must be a whole number of seconds from 1 to "
            f"{MAX_TIMEOUT_SECONDS}"
        }
    return {}


def server_address(text: str, default_port: int = 53) -> tuple[str, int]:
    """(host, port) from `host`, `host:port`, an IPv6 address or `[v6]:port`; ValueError when it is neither."""
    text = text.strip()
    port_text = ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(text)
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text
    if port_text and not port_text.isdigit():
        raise ValueError(text)
    port = int(port_text) if port_text else default_port
    if not host or any(c.isspace() for c in host) or not 1 <= port <= 65535:
        raise ValueError(text)
    return host, port


def resolve_address(host: str, port: int) -> str:
    """The IP address to send DNS messages to (dnspython needs an address, not a name)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, IndexError) as exc:
        raise IssuerError(f"cannot resolve the DNS server name {host}: {exc}", permanent=False) from exc
