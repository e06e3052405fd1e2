"""Waiting until the challenge's TXT records are visible, before the CA is told to look.

Each configured nameserver (`propagation_nameservers`: usually the zone's authoritative servers) is asked directly;
without any, the system resolver is. A record counts once every one of them answers it with the value.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from certificates.issuance.issuers.acme.dns.base import resolve_address, server_address
from certificates.issuance.issuers.base import IssuerError

QUERY_TIMEOUT_SECONDS = 3.0
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 5.0


def _txt_values(rrset) -> set[str]:
    return {b"".join(rdata.strings).decode(errors="replace") for rdata in rrset or ()}


def txt_values(name: str, nameserver: str | None) -> set[str]:
    """The TXT values of `name` as `nameserver` (host[:port]; None: the system resolver) answers now."""
    qname = dns.name.from_text(name)
    if nameserver is None:
        resolver = dns.resolver.Resolver()
        resolver.cache = None
        try:
            answer = resolver.resolve(
                qname, dns.rdatatype.TXT, lifetime=QUERY_TIMEOUT_SECONDS, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return set()
        return _txt_values(answer.rrset)
    host, port = server_address(nameserver)
    query = dns.message.make_query(qname, dns.rdatatype.TXT)
    response, _tcp = dns.query.udp_with_fallback(
        query, resolve_address(host, port), timeout=QUERY_TIMEOUT_SECONDS, port=port
    )
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.TXT)
    return _txt_values(rrset)


def wait_until_visible(
    records: Iterable[tuple[str, str]], nameservers: Sequence[str], timeout_seconds: int
) -> None:
    """Return once every (name, value) is answered by every nameserver; a transient IssuerError at the timeout."""
    pending = list(dict.fromkeys(records))
    servers: Sequence[str | None] = list(nameservers) or [None]
    deadline = time.monotonic() + timeout_seconds
    pause = FIRST_PAUSE_SECONDS
    last_problem = ""
    while True:
        still = []
        for name, value in pending:
            for server in servers:
                try:
                    visible = value in txt_values(name, server)
                except (dns.exception.DNSException, OSError, IssuerError, ValueError) as exc:
                    visible, last_problem = False, f"{server or 'system resolver'}: {type(exc).__name__}"
                if not visible:
                    still.append((name, value))
                    break
        pending = still
        if not pending:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            where = ", ".join(nameservers) if nameservers else "the system resolver"
            name = pending[0][0]
            raise IssuerError(
                f"DNS-01: the TXT record {name} is not visible at {where} after {timeout_seconds} seconds"
                f"{f' (last problem: {last_problem})' if last_problem else ''}; check that the DNS provider "
                "publishes it, or raise propagation_timeout_seconds; the order resumes on retry",
                permanent=False,
            )
        time.sleep(min(pause, remaining))  # the last look is at the deadline
        pause = min(pause * 2, MAX_PAUSE_SECONDS)
