"""Credential-like keys are replaced before an audit row is stored, at any nesting depth."""

from __future__ import annotations

from typing import Any

REDACTED = "[REDACTED]"
CREDENTIAL_KEYS = frozenset(
    {
        "api_key", "apikey", "password", "passphrase", "secret", "client_secret", "token", "access_token",
        "refresh_token", "bootstrap_token", "credential", "credentials", "private_key", "privatekey",
        "private_key_pem", "key_pem", "eab_secret", "eab_kid", "acme_account_key", "hmac", "hmac_key",
        "signature", "auth", "authorization", "bearer", "routing_key", "webhook_url", "encryption_key",
    }
)  # fmt: skip


def _walk(value: Any, path: str, redacted: list[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            dotted = f"{path}.{key}" if path else str(key)
            if str(key).lower() in CREDENTIAL_KEYS:
                out[key] = REDACTED
                redacted.append(dotted)
            else:
                out[key] = _walk(item, dotted, redacted)
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(item, f"{path}[{i}]", redacted) for i, item in enumerate(value)]
    return value


def redact(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of `details` with credentials replaced; `redacted_keys` lists what was replaced."""
    if not details:
        return None
    redacted: list[str] = []
    clean = _walk(details, "", redacted)
    if redacted:
        clean["redacted_keys"] = redacted
    return clean
