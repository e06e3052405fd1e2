"""What a scan may contact: parsing and checking the targets an operator wrote, cutting them into chunk specs,
and expanding a spec back into (address, port, SNI) probes at scan time.

Target syntax (one entry each):
    host:port              a name (resolved at scan time, sent as SNI) or an address, on that port
    host                   the same, on every port of the profile's `ports`
    sni@address[:port]     probe `address` and send `sni` (a name behind a load balancer, or DNS not set up yet)
    10.0.0.0/24            every address of an IPv4 range, up to a /16, on every port of `ports`
    2001:db8::1, [2001:db8::1]:8443, sni@[2001:db8::1]:8443
                           explicit IPv6 addresses (IPv6 ranges are far too large to sweep)

A chunk spec stores a range as `{"first": <int>, "count": n, "version": 4, "ports": [...]}` and explicit entries as
`{"targets": ["host:port", "sni@address:port", ...]}`, never one row per address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

DEFAULT_PORTS = (443,)
MAX_PORTS = 32
MAX_ENTRIES = 4096
SMALLEST_PREFIX = 16  # an IPv4 /16: 65,536 addresses
MAX_TARGETS = 2**16 * MAX_PORTS  # addresses x ports of one run

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class TargetError(ValueError):
    """Targets or ports an operator cannot scan; `fields` maps "targets"/"ports" to messages (an API 400)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()))


@dataclass(frozen=True)
class Probe:
    """One handshake to attempt: connect to `host` (an address, or a name to resolve) on `port`, send `sni`."""

    host: str
    port: int
    sni: str = ""

    @property
    def is_name(self) -> bool:
        """A host name to resolve at scan time (and send as SNI), not an address literal."""
        return bool(self.sni) and self.sni == self.host

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.sni and self.sni != self.host:
            return f"{self.sni}@{host}:{self.port}"
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Range:
    first: int
    count: int
    ports: tuple[int, ...]


@dataclass
class TargetSet:
    """Checked targets: explicit probes plus IPv4 ranges; `total` counts addresses x ports."""

    probes: list[Probe] = field(default_factory=list)
    ranges: list[Range] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.probes) + sum(r.count * len(r.ports) for r in self.ranges)


def check_ports(ports: Sequence | None) -> tuple[int, ...]:
    """The ports to use (default 443): integers 1..65535, at most 32, duplicates dropped."""
    if not ports:
        return DEFAULT_PORTS
    if not isinstance(ports, (list, tuple)):
        raise TargetError({"ports": ["must be a list of port numbers"]})
    if len(ports) > MAX_PORTS:
        raise TargetError({"ports": [f"at most {MAX_PORTS} ports"]})
    checked: list[int] = []
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise TargetError({"ports": [f"{port!r} is not a port number (1-65535)"]})
        if port not in checked:
            checked.append(port)
    return tuple(checked)


def _host_name(name: str) -> str | None:
    name = name.rstrip(".").lower()
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return None
    if name.replace(".", "").isdigit():  # "10.1" is a malformed address, not a name
        return None
    return name


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r}: {text!r} is not a port number (1-65535)")
    return int(text)


def _split_host_port(text: str, entry: str) -> tuple[str, int | None]:
    """ "[v6]:port", "[v6]", "v6", "host:port", "host" -> (host, port or None)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r}: write an IPv6 address with a port as [2001:db8::1]:443")
        return host, _port(rest[1:], entry) if rest else None
    if text.count(":") > 1:  # a bare IPv6 address
        return text, None
    host, sep, port = text.partition(":")
    return host, _port(port, entry) if sep else None


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_entry(entry: str, ports: tuple[int, ...]) -> list[Probe] | Range:
    """One target entry as probes, or as a range; ValueError with an operator-readable message."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError(f"{entry!r}: a target is a non-empty string")
    entry = entry.strip()
    if "/" in entry:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ValueError(f"{entry!r}: not a CIDR range ({exc})") from None
        if network.version == 6:
            raise ValueError(f"{entry!r}: IPv6 ranges are not scanned; list the IPv6 addresses to probe")
        if network.prefixlen < SMALLEST_PREFIX:
            raise ValueError(
                f"{entry!r}: a /{network.prefixlen} is larger than the largest range scanned "
                f"(/{SMALLEST_PREFIX}, 65,536 addresses); split it into /{SMALLEST_PREFIX} ranges"
            )
        return Range(first=int(network.network_address), count=network.num_addresses, ports=ports)
    sni = ""
    if "@" in entry:
        name, _, entry_rest = entry.partition("@")
        sni = _host_name(name) or ""
        if not sni:
            raise ValueError(f"{entry!r}: {name!r} is not a host name to send as SNI")
        host, port = _split_host_port(entry_rest, entry)
        if _address(host) is None:
            raise ValueError(f"{entry!r}: after the @ comes an IP address, not {host!r}")
    else:
        host, port = _split_host_port(entry, entry)
    address = _address(host)
    if address is None:
        name = _host_name(host)
        if name is None:
            raise ValueError(f"{entry!r}: {host!r} is neither an IP address nor a host name")
        host, sni = name, name
    else:
        host = address
    return [Probe(host=host, port=p, sni=sni) for p in ((port,) if port else ports)]


def parse_targets(entries: Sequence | None, ports: Sequence | None = None) -> TargetSet:
    """Check a profile's or an ad hoc scan's targets and ports; TargetError names every bad entry."""
    checked_ports = check_ports(ports)
    if not entries or not isinstance(entries, (list, tuple)):
        raise TargetError({"targets": ["give at least one target (host:port, host, CIDR range or address)"]})
    if len(entries) > MAX_ENTRIES:
        raise TargetError({"targets": [f"at most {MAX_ENTRIES} entries; use CIDR ranges for larger sets"]})
    result, problems, seen = TargetSet(), [], set()
    for entry in entries:
        try:
            parsed = parse_entry(entry, checked_ports)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if isinstance(parsed, Range):
            result.ranges.append(parsed)
            continue
        for probe in parsed:
            if probe not in seen:
                seen.add(probe)
                result.probes.append(probe)
    if problems:
        raise TargetError({"targets": problems})
    if result.total > MAX_TARGETS:
        raise TargetError(
            {"targets": [f"{result.total:,} addresses x ports is over the limit of {MAX_TARGETS:,} per run"]}
        )
    return result


def chunk_specs(targets: TargetSet, chunk_size: int) -> list[dict]:
    """Cut the targets into chunk specs of about `chunk_size` probes each."""
    chunk_size = max(1, chunk_size)
    specs: list[dict] = []
    for start in range(0, len(targets.probes), chunk_size):
        specs.append({"targets": [p.label for p in targets.probes[start : start + chunk_size]]})
    for item in targets.ranges:
        per_chunk = max(1, chunk_size // len(item.ports))
        for offset in range(0, item.count, per_chunk):
            specs.append(
                {
                    "first": item.first + offset,
                    "count": min(per_chunk, item.count - offset),
                    "version": 4,
                    "ports": list(item.ports),
                }
            )
    return specs


def spec_size(spec: dict) -> int:
    if "targets" in spec:
        return len(spec["targets"])
    return int(spec["count"]) * len(spec["ports"])


def expand(spec: dict) -> Iterator[Probe]:
    """The probes of one chunk spec, in order."""
    if "targets" in spec:
        for entry in spec["targets"]:
            parsed = parse_entry(entry, DEFAULT_PORTS)
            yield from parsed  # an entry stored in a spec always carries its port: one probe
        return
    ports = spec["ports"]
    for number in range(spec["first"], spec["first"] + spec["count"]):
        address = str(ipaddress.IPv4Address(number))
        for port in ports:
            yield Probe(host=address, port=port)
