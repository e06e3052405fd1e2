"""Issuer configuration: public `config` and secrets kept encrypted in `encrypted_config`.

Secrets reach the server once (the API's write-only `secrets` field) and are merged into the encrypted blob,
so a local CA's private key stored by `ca_store.store_ca` survives an update that sets an ACME token.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from certctl.crypto import decrypt_json, encrypt_json
from certificates.models import Issuer

SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "key",
        "apikey",
        "private",
        "credential",
        "credentials",
    }
)
# A key named like these describes a secret without being one: `key_size`, `ca_key_path`, `key_algorithm`.
HARMLESS_LAST_WORDS = frozenset({"size", "bits", "algorithm", "type", "path", "file", "id", "usage", "url"})


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def looks_secret(name: str) -> bool:
    """Whether a config key looks like it holds a credential (`api_token`, `clientSecret`, `private_key_pem`)."""
    words = _words(name)
    if not words or words[-1] in HARMLESS_LAST_WORDS:
        return False
    return any(word in SECRET_WORDS for word in words)


def secret_looking_keys(config: Any, prefix: str = "") -> list[str]:
    """Dotted paths of keys in `config` (at any depth) that look like secrets."""
    found: list[str] = []
    if isinstance(config, dict):
        for key, value in config.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if looks_secret(str(key)):
                found.append(path)
            found.extend(secret_looking_keys(value, path))
    elif isinstance(config, list):
        for index, item in enumerate(config):
            found.extend(secret_looking_keys(item, f"{prefix}[{index}]"))
    return found


def merged_secrets(issuer: Issuer, changes: dict[str, Any]) -> str:
    """The new `encrypted_config`: stored secrets updated with `changes`; a null value removes a secret."""
    current = decrypt_json(issuer.encrypted_config) if issuer.encrypted_config else {}
    for name, value in changes.items():
        if value is None:
            current.pop(name, None)
        else:
            current[name] = value
    return encrypt_json(current) if current else ""


def save_issuer(issuer: Issuer, fields: dict[str, Any], secrets: dict[str, Any] | None = None) -> Issuer:
    """Create or update an issuer; `secrets` (if given) are merged into the encrypted configuration."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(issuer, name, value)
        if secrets is not None:
            issuer.encrypted_config = merged_secrets(issuer, secrets)
        issuer.save()
    return issuer
