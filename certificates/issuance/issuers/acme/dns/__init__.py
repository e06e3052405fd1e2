"""DNS-01: the providers that publish the challenge's TXT records, and the issuer settings that choose one.

config:  challenge ("http-01", the default, "http-01-agent" or "dns-01"); dns ({"provider": "rfc2136" | "exec", ...the
         provider's settings}); propagation_nameservers (host[:port] list; default: the system resolver);
         propagation_timeout_seconds (default 120)
secrets: the provider's (rfc2136: tsig_secret; exec: dns_hook_env)

Adding a provider is one module with a DnsProvider subclass and one entry in PROVIDERS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from certificates.issuance.issuers.acme.dns.base import DnsProvider, server_address
from certificates.issuance.issuers.acme.dns.exec_hook import ExecHookProvider
from certificates.issuance.issuers.acme.dns.rfc2136 import Rfc2136Provider

PROVIDERS: dict[str, type[DnsProvider]] = {p.name: p for p in (Rfc2136Provider, ExecHookProvider)}
HTTP_01 = "http-01"
HTTP_01_AGENT = "http-01-agent"  # answered by the agent of the certificate's target (see ../agent_http01.py)
DNS_01 = "dns-01"
CHALLENGES = (HTTP_01, HTTP_01_AGENT, DNS_01)
DEFAULT_PROPAGATION_TIMEOUT_SECONDS = 120
MAX_PROPAGATION_TIMEOUT_SECONDS = 3600
MAX_NAMESERVERS = 10


@dataclass(frozen=True)
class Dns01Settings:
    provider: DnsProvider
    propagation_nameservers: tuple[str, ...]
    propagation_timeout_seconds: int


def _provider_class(config: dict[str, Any]) -> type[DnsProvider] | None:
    dns_config = config.get("dns")
    return PROVIDERS.get(dns_config.get("provider")) if isinstance(dns_config, dict) else None


def config_problems(config: dict[str, Any]) -> dict[str, str]:
    """What is wrong with the challenge settings of an ACME issuer's config (dotted path -> sentence)."""
    problems: dict[str, str] = {}
    challenge = config.get("challenge", HTTP_01)
    if challenge not in CHALLENGES:
        problems["challenge"] = f"challenge must be {' or '.join(CHALLENGES)}"
    dns_config = config.get("dns")
    if dns_config is None:
        if challenge == DNS_01:
            choices = " or ".join(f'"{name}"' for name in PROVIDERS)
            problems["dns"] = (
                f'dns must name a DNS provider when challenge is dns-01: {{"provider": {choices}, ...}}'
            )
    elif not isinstance(dns_config, dict):
        problems["dns"] = "dns must be an object with the DNS provider's settings"
    elif (provider := _provider_class(config)) is None:
        problems["dns.provider"] = f"dns.provider must be one of {', '.join(PROVIDERS)}"
    else:
        problems.update(provider.config_problems(dns_config))
    nameservers = config.get("propagation_nameservers", [])
    if not isinstance(nameservers, list) or len(nameservers) > MAX_NAMESERVERS:
        problems["propagation_nameservers"] = (
            f"propagation_nameservers must be a list of at most {MAX_NAMESERVERS} host or host:port strings"
        )
    else:
        for index, server in enumerate(nameservers):
            try:
                server_address(server if isinstance(server, str) else "")
            except ValueError:
                problems[f"propagation_nameservers[{index}]"] = (
                    f"propagation_nameservers[{index}] must be a nameserver as host or host:port"
                )
    timeout = config.get("propagation_timeout_seconds", DEFAULT_PROPAGATION_TIMEOUT_SECONDS)
    if (
        not isinstance(timeout, int)
        or isinstance(timeout, bool)
        or not 1 <= timeout <= MAX_PROPAGATION_TIMEOUT_SECONDS
    ):
        problems["propagation_timeout_seconds"] = (
            f"propagation_timeout_seconds must be a whole number of seconds from 1 to "
            f"{MAX_PROPAGATION_TIMEOUT_SECONDS}"
        )
    return problems


def secret_problems(config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, str]:
    """What the chosen DNS provider misses in the issuer's secrets (only when challenge is dns-01)."""
    provider = _provider_class(config)
    if config.get("challenge", HTTP_01) != DNS_01 or provider is None:
        return {}
    return provider.secret_problems(secrets)


def dns01_settings(config: dict[str, Any], secrets: dict[str, Any]) -> Dns01Settings:
    """The provider and propagation check of a config that `config_problems` and `secret_problems` accept."""
    provider = PROVIDERS[config["dns"]["provider"]](config["dns"], secrets)
    return Dns01Settings(
        provider=provider,
        propagation_nameservers=tuple(config.get("propagation_nameservers", ())),
        propagation_timeout_seconds=config.get(
            "propagation_timeout_seconds", DEFAULT_PROPAGATION_TIMEOUT_SECONDS
        ),
    )
