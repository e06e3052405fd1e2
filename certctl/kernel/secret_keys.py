"""Spotting credentials in JSON meant to be public (issuer and target `config`)."""

from __future__ import annotations

import re
from typing import Any

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
        "hmac",
        "pwd",
        "pass",
        "auth",
        "bearer",
        "pkcs12",
        "p12",
        "pfx",
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


def secret_message(path: str) -> str:
    return f"{path} looks like a secret: send it in `secrets`, which is stored encrypted"


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
