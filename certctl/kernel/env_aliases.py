"""The reference (Go) product's environment variables, accepted so an operator's environment file keeps working.

`reference_settings(env)` runs at the top of certctl/settings.py, before any other read. Each alias is copied to
certctl's own variable with a one-line deprecation warning on stderr naming it; an alias and its new variable both
set to different values stop start-up (ImproperlyConfigured naming both). It also reads the reference's variables
that have no certctl equivalent: `CERTCTL_AUTH_TYPE` (only `api-key`: certctl never serves its API without
authentication) and `CERTCTL_API_KEYS_NAMED` (named keys, created or updated after `migrate` by
certctl.services.named_api_keys), and `CERTCTL_WEBHOOK_SIGNATURE`. docs/migrating-from-go.md has the table.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.exceptions import ImproperlyConfigured

WEBHOOK_SIGNATURES = ("certctl", "reference")
_KEY_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _same(value: str) -> str:
    return value.strip()


def _smtp_security(value: str) -> str:
    """The reference's `CERTCTL_SMTP_USE_TLS=true` is implicit TLS (no STARTTLS); false is plain SMTP."""
    flag = value.strip().lower()
    if flag in {"1", "true", "yes", "on"}:
        return "tls"
    if flag in {"0", "false", "no", "off"}:
        return "none"
    raise ImproperlyConfigured(f"CERTCTL_SMTP_USE_TLS must be a boolean (true/false), got {value!r}")


@dataclass(frozen=True)
class Alias:
    old: str
    new: str
    translate: Callable[[str], str] = _same
    duration: bool = False  # compare as durations: 1h and 60m are the same value


ALIASES: tuple[Alias, ...] = (
    Alias("CERTCTL_DATABASE_URL", "DATABASE_URL"),
    Alias("CERTCTL_SCHEDULER_RENEWAL_CHECK_INTERVAL", "CERTCTL_RENEWAL_CHECK_INTERVAL", duration=True),
    Alias("CERTCTL_SCHEDULER_JOB_PROCESSOR_INTERVAL", "CERTCTL_JOB_PROCESSOR_INTERVAL", duration=True),
    Alias(
        "CERTCTL_SCHEDULER_AGENT_HEALTH_CHECK_INTERVAL", "CERTCTL_AGENT_HEALTH_CHECK_INTERVAL", duration=True
    ),
    Alias(
        "CERTCTL_SCHEDULER_NOTIFICATION_PROCESS_INTERVAL",
        "CERTCTL_NOTIFICATION_PROCESS_INTERVAL",
        duration=True,
    ),
    Alias("CERTCTL_SCHEDULER_RETRY_INTERVAL", "CERTCTL_JOB_RETRY_INTERVAL", duration=True),
    Alias("CERTCTL_CRL_GENERATION_INTERVAL", "CERTCTL_CRL_INTERVAL", duration=True),
    Alias("CERTCTL_SMTP_USE_TLS", "CERTCTL_SMTP_SECURITY", _smtp_security),
)


class NamedKey(NamedTuple):
    name: str
    key: str
    is_admin: bool


def _warn(message: str) -> None:
    # Logging is not configured yet while settings load: one plain line on stderr, in every process.
    sys.stderr.write(f"certctl: {message}\n")


def _equal(alias: Alias, env: Any, first: str, second: str) -> bool:
    if alias.duration:
        # `env` is an Environment; its class is taken from it because certctl.kernel.env imports this module.
        compare = type(env)({"a": first, "b": second})
        try:
            return compare.seconds("a", "0") == compare.seconds("b", "0")
        except ImproperlyConfigured:  # the new variable's own read names the bad value
            return first.strip() == second.strip()
    if alias.translate is not _same:  # a translated choice, such as tls or none
        return first.strip().lower() == second.strip().lower()
    return first.strip() == second.strip()


def apply_aliases(env: Any) -> None:
    """Copy each reference variable that is set to certctl's name in `env.environ` (refusing a conflict)."""
    environ = env.environ
    for alias in ALIASES:
        raw = environ.get(alias.old, "")
        if not raw.strip():
            continue
        value = alias.translate(raw)
        current = environ.get(alias.new, "")
        if current.strip() and not _equal(alias, env, value, current):
            raise ImproperlyConfigured(
                f"{alias.old} (the reference product's name) and {alias.new} are both set, to different "
                f"values; remove {alias.old}"
            )
        _warn(f"{alias.old} is deprecated, set {alias.new} instead (docs/migrating-from-go.md)")
        environ[alias.new] = value


def auth_type(environ: Mapping[str, str]) -> str:
    """`CERTCTL_AUTH_TYPE`: `api-key` is what certctl always does; `none` (and `jwt`) are refused."""
    raw = environ.get("CERTCTL_AUTH_TYPE", "").strip()
    if not raw:
        return "api-key"
    if raw.lower() == "none":
        raise ImproperlyConfigured(
            "CERTCTL_AUTH_TYPE=none is not supported: certctl never serves its API without authentication "
            "(it issues and revokes certificates). Remove CERTCTL_AUTH_TYPE and use API keys; behind an "
            "authenticating proxy, give the proxy an API key (docs/migrating-from-go.md)"
        )
    if raw.lower() != "api-key":
        raise ImproperlyConfigured(f"CERTCTL_AUTH_TYPE must be api-key, got {raw!r}")
    _warn("CERTCTL_AUTH_TYPE is deprecated and can be removed: certctl always requires an API key")
    return "api-key"


def named_api_keys(raw: str) -> tuple[NamedKey, ...]:
    """`CERTCTL_API_KEYS_NAMED`: `name:key` or `name:key:admin`, comma separated (the reference's format).

    A name may appear twice with different keys (rotation) but with the same admin flag; an exact duplicate
    pair is refused, as by the reference. The keys are never shown in a message.
    """
    keys: list[NamedKey] = []
    admin_of: dict[str, bool] = {}
    seen: set[tuple[str, str]] = set()
    for position, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        parts = entry.split(":")
        where = f"CERTCTL_API_KEYS_NAMED, entry {position}"
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip() != "admin"):
            raise ImproperlyConfigured(f"{where}: expected name:key or name:key:admin")
        name, key = parts[0].strip(), parts[1].strip()
        if not _KEY_NAME.fullmatch(name) or len(name) > 100:
            raise ImproperlyConfigured(f"{where}: the name must be letters, digits, - and _ (at most 100)")
        if not key:
            raise ImproperlyConfigured(f"{where} ({name}): the key is empty")
        is_admin = len(parts) == 3
        if admin_of.setdefault(name, is_admin) != is_admin:
            raise ImproperlyConfigured(
                f"{where} ({name}): every key of one name must have the same admin flag"
            )
        if (name, key) in seen:
            raise ImproperlyConfigured(f"{where} ({name}): the same name and key are listed twice")
        if any(k == key and n != name for n, k in seen):
            raise ImproperlyConfigured(f"{where} ({name}): this key is already listed under another name")
        seen.add((name, key))
        keys.append(NamedKey(name, key, is_admin))
    return tuple(keys)


def reference_settings(env: Any) -> dict[str, Any]:
    """Apply the aliases to `env`, then return the settings only the reference's variables give."""
    apply_aliases(env)
    signature = env.text("CERTCTL_WEBHOOK_SIGNATURE", "certctl").lower()
    if signature not in WEBHOOK_SIGNATURES:
        raise ImproperlyConfigured(
            f"CERTCTL_WEBHOOK_SIGNATURE must be certctl or reference, got {signature!r}"
        )
    named = named_api_keys(env.text("CERTCTL_API_KEYS_NAMED"))
    if named:
        _warn(
            f"CERTCTL_API_KEYS_NAMED: {len(named)} key(s) are created or updated at each `migrate`; "
            "prefer `manage.py create_api_key` (docs/migrating-from-go.md)"
        )
    return {
        "AUTH_TYPE": auth_type(env.environ),
        "API_KEYS_NAMED": named,
        "WEBHOOK_SIGNATURE": signature,
    }
