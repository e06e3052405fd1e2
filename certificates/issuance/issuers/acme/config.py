"""An ACME issuer's settings: public ones in `Issuer.config`, secrets in the encrypted `Issuer.encrypted_config`.

config:  directory_url, contact_email, agree_tos (must be true), eab_kid (optional), ca_bundle (optional path of
         the CA certificates that verify the ACME server's TLS, for private or test CAs), poll_timeout_seconds;
         challenge, dns, propagation_nameservers, propagation_timeout_seconds (DNS-01, see `dns/`);
         agent_publish_timeout_seconds (http-01-agent, see `agent_http01.py`)
secrets: eab_hmac_key (optional, set by the operator); the DNS provider's (tsig_secret, dns_hook_env);
         account_key_pem, account_url and account_directory (written by certctl when it first registers; never shown)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from certctl.kernel.crypto import decrypt_json
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme import agent_http01, dns
from certificates.issuance.issuers.base import IssuerError, unknown_key_problems

DEFAULT_POLL_TIMEOUT_SECONDS = 90
# Every key the code above and `dns/`, `agent_http01.py` read from `Issuer.config`: nothing else may be public.
PUBLIC_KEYS = frozenset(
    {
        "directory_url",
        "agree_tos",
        "contact_email",
        "eab_kid",
        "ca_bundle",
        "poll_timeout_seconds",
        "challenge",
        "dns",
        "propagation_nameservers",
        "propagation_timeout_seconds",
        "agent_publish_timeout_seconds",
    }
)
# The `dns` object's keys by provider (dns/rfc2136.py, dns/exec_hook.py, dns/base.py's timeout_seconds).
DNS_PUBLIC_KEYS = {
    "rfc2136": frozenset({"provider", "server", "zone", "tsig_name", "tsig_algorithm", "timeout_seconds"}),
    "exec": frozenset({"provider", "hook", "timeout_seconds"}),
}


@dataclass(frozen=True)
class AcmeConfig:
    directory_url: str
    contact_email: str
    eab_kid: str
    eab_hmac_key: str
    ca_bundle: str
    poll_timeout_seconds: int
    challenge: str = dns.HTTP_01
    dns01: dns.Dns01Settings | None = None  # the DNS provider and propagation check when challenge is dns-01
    agent_publish_timeout_seconds: int = agent_http01.DEFAULT_PUBLISH_TIMEOUT_SECONDS  # http-01-agent

    @property
    def tls_verify(self) -> bool | str:
        """What `requests` verifies the server with: the configured bundle, else the system's trust store."""
        return self.ca_bundle or True


def config_field_problems(config: dict[str, Any]) -> dict[str, str]:
    """What is wrong with an ACME issuer's public config: the key's dotted path -> words an operator can act on."""
    problems = {}
    url = config.get("directory_url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        problems["directory_url"] = "directory_url must be the CA's ACME directory URL (https://...)"
    if config.get("agree_tos") is not True:
        problems["agree_tos"] = "agree_tos must be true: certctl agrees to the CA's terms of service for you"
    for name in ("contact_email", "eab_kid", "ca_bundle"):
        if name in config and not isinstance(config[name], str):
            problems[name] = f"{name} must be a string"
    timeout = config.get("poll_timeout_seconds", DEFAULT_POLL_TIMEOUT_SECONDS)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 3600:
        problems["poll_timeout_seconds"] = (
            "poll_timeout_seconds must be a whole number of seconds from 1 to 3600"
        )
    problems.update(dns.config_problems(config))
    problems.update(agent_http01.config_problems(config))
    return problems


def public_key_problems(config: dict[str, Any]) -> dict[str, str]:
    """Keys of the config (and of its `dns` object) that are not public ACME settings: dotted path -> sentence."""
    problems = unknown_key_problems(config, PUBLIC_KEYS, "an ACME issuer")
    dns_config = config.get("dns")
    if isinstance(dns_config, dict):
        provider = dns_config.get("provider")
        allowed = DNS_PUBLIC_KEYS.get(provider) if isinstance(provider, str) else None
        owner = f"the {provider} DNS provider" if allowed else "any DNS provider"
        allowed = allowed or frozenset().union(*DNS_PUBLIC_KEYS.values())
        problems.update(unknown_key_problems(dns_config, allowed, owner, prefix="dns."))
    return problems


def config_problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with an ACME issuer's public config, in words an operator can act on (empty: fine)."""
    return list(config_field_problems(config).values())


def secret_problems(config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, str]:
    """What the config needs in the secrets and they lack (the DNS provider's credentials): key -> words."""
    return dns.secret_problems(config, secrets)


def stored_secrets(issuer: Issuer) -> dict:
    return decrypt_json(issuer.encrypted_config) if issuer.encrypted_config else {}


def read_config(issuer: Issuer) -> AcmeConfig:
    """The issuer's ACME settings; IssuerError (permanent) when they cannot work."""
    config = issuer.config or {}
    problems = config_problems(config)
    if problems:
        raise IssuerError(f"ACME issuer {issuer.name} is misconfigured: {'; '.join(problems)}")
    secrets = stored_secrets(issuer)
    missing = secret_problems(config, secrets)
    if missing:
        raise IssuerError(f"ACME issuer {issuer.name} is misconfigured: {'; '.join(missing.values())}")
    challenge = config.get("challenge", dns.HTTP_01)
    settings = AcmeConfig(
        directory_url=config["directory_url"],
        contact_email=config.get("contact_email", ""),
        eab_kid=config.get("eab_kid", ""),
        eab_hmac_key=secrets.get("eab_hmac_key", ""),
        ca_bundle=config.get("ca_bundle", ""),
        poll_timeout_seconds=config.get("poll_timeout_seconds", DEFAULT_POLL_TIMEOUT_SECONDS),
        challenge=challenge,
        dns01=dns.dns01_settings(config, secrets) if challenge == dns.DNS_01 else None,
        agent_publish_timeout_seconds=config.get(
            "agent_publish_timeout_seconds", agent_http01.DEFAULT_PUBLISH_TIMEOUT_SECONDS
        ),
    )
    if bool(settings.eab_kid) != bool(settings.eab_hmac_key):
        raise IssuerError(
            f"ACME issuer {issuer.name}: External Account Binding needs both eab_kid (config) and "
            "eab_hmac_key (secrets)"
        )
    return settings
