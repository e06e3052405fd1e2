"""RFC 2136 dynamic update signed with TSIG (dnspython), for BIND, Knot, PowerDNS and any server that takes UPDATE.

config.dns: provider "rfc2136", server (host or host:port, port 53 by default), zone (the zone the records are
            in), tsig_name, tsig_algorithm (default hmac-sha256), timeout_seconds
secrets:    tsig_secret (base64, as `tsig-keygen` prints it)
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update

from certificates.issuance.issuers.acme.dns.base import (
    DnsProvider,
    resolve_address,
    server_address,
    timeout_problems,
)
from certificates.issuance.issuers.base import IssuerError

RECORD_TTL_SECONDS = 60
TSIG_ALGORITHMS = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-md5": dns.tsig.HMAC_MD5,
}
# What each refusal means for an operator; all but SERVFAIL are permanent (a retry changes nothing).
RCODE_ADVICE = {
    dns.rcode.NOTAUTH: "the server is not authoritative for the zone or did not accept the TSIG key",
    dns.rcode.REFUSED: "the server's update-policy (or allow-update) does not let this key change the record",
    dns.rcode.NOTZONE: "the record is not inside the zone named in dns.zone",
    dns.rcode.SERVFAIL: "the server failed to apply it; it is tried again",
}


def _name_problem(value: Any, path: str, what: str) -> dict[str, str]:
    if not isinstance(value, str) or not value.strip():
        return {path: f"{path} must be {what}"}
    try:
        dns.name.from_text(value)
    except dns.exception.DNSException:
        return {path: f"{path} must be {what}; {value!r} is not a DNS name"}
    return {}


class Rfc2136Provider(DnsProvider):
    name = "rfc2136"

    def __init__(self, dns_config: dict[str, Any], secrets: dict[str, Any]) -> None:
        super().__init__(dns_config, secrets)
        self.host, self.port = server_address(dns_config["server"])
        self.zone = dns.name.from_text(dns_config["zone"])
        self.key_name = dns_config["tsig_name"]
        algorithm = TSIG_ALGORITHMS[dns_config.get("tsig_algorithm", "hmac-sha256").lower()]
        self.key = dns.tsig.Key(self.key_name, secrets["tsig_secret"], algorithm)

    @classmethod
    def config_problems(cls, dns_config: dict[str, Any]) -> dict[str, str]:
        problems = timeout_problems(dns_config)
        server = dns_config.get("server")
        try:
            server_address(server if isinstance(server, str) else "")
        except ValueError:
            problems["dns.server"] = "dns.server must be the DNS server to update, as host or host:port"
        problems.update(_name_problem(dns_config.get("zone"), "dns.zone", "the zone the records go in"))
        problems.update(_name_problem(dns_config.get("tsig_name"), "dns.tsig_name", "the TSIG key's name"))
        algorithm = dns_config.get("tsig_algorithm", "hmac-sha256")
        if not isinstance(algorithm, str) or algorithm.lower() not in TSIG_ALGORITHMS:
            problems["dns.tsig_algorithm"] = f"dns.tsig_algorithm must be one of {', '.join(TSIG_ALGORITHMS)}"
        return problems

    @classmethod
    def secret_problems(cls, secrets: dict[str, Any]) -> dict[str, str]:
        secret = secrets.get("tsig_secret")
        if not isinstance(secret, str) or not secret.strip():
            return {"tsig_secret": "tsig_secret (the TSIG key's base64 secret) must be set in the secrets"}
        try:
            base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            return {"tsig_secret": "tsig_secret must be base64, as tsig-keygen prints it"}
        return {}

    def present(self, name: str, value: str) -> None:
        self._update(name, value, add=True)

    def cleanup(self, name: str, value: str) -> None:
        self._update(name, value, add=False)

    def _update(self, name: str, value: str, *, add: bool) -> None:
        record = dns.name.from_text(name)
        doing = f"RFC 2136 update ({'add' if add else 'delete'} TXT {name}) at {self.host}:{self.port}"
        if not record.is_subdomain(self.zone):
            raise IssuerError(f"{doing} failed: {name} is not inside the zone {self.zone} (dns.zone)")
        update = dns.update.UpdateMessage(self.zone, keyring=self.key)
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, f'"{value}"')
        if add:
            update.add(record, RECORD_TTL_SECONDS, rdata)
        else:
            update.delete(record, rdata)
        address = resolve_address(self.host, self.port)
        try:
            response = dns.query.tcp(update, address, port=self.port, timeout=self.timeout_seconds)
        except dns.tsig.PeerBadKey as exc:
            raise IssuerError(
                f"{doing} failed: the server does not know the TSIG key {self.key_name} (BADKEY): check "
                "dns.tsig_name and dns.tsig_algorithm against the key in the server's configuration"
            ) from exc
        except dns.tsig.PeerBadSignature as exc:
            raise IssuerError(
                f"{doing} failed: the server rejected the TSIG signature of key {self.key_name} (BADSIG): "
                "tsig_secret does not match the server's secret for that key"
            ) from exc
        except dns.tsig.PeerBadTime as exc:
            raise IssuerError(
                f"{doing} failed: the server rejected the TSIG time (BADTIME): the clocks of certctl and the "
                "DNS server differ by more than the allowed skew"
            ) from exc
        except dns.exception.Timeout as exc:
            raise IssuerError(
                f"{doing} failed: no answer within {self.timeout_seconds} seconds", permanent=False
            ) from exc
        except OSError as exc:
            raise IssuerError(f"{doing} failed: cannot reach the server: {exc}", permanent=False) from exc
        except dns.exception.DNSException as exc:
            raise IssuerError(
                f"{doing} failed: the server's answer could not be verified with the TSIG key "
                f"{self.key_name} ({type(exc).__name__}: {exc})"
            ) from exc
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            advice = RCODE_ADVICE.get(rcode, "the server refused the update")
            raise IssuerError(
                f"{doing} failed: {dns.rcode.to_text(rcode)}: {advice}", permanent=rcode != dns.rcode.SERVFAIL
            )
