"""Credentials never reach the audit table: redaction of `details` (any nesting depth) and of query strings."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "[REDACTED]"
CREDENTIAL_KEYS = frozenset(
    {
        "api_key", "apikey", "password", "passphrase", "secret", "client_secret", "token", "access_token",
        "refresh_token", "bootstrap_token", "credential", "credentials", "private_key", "privatekey",
        "private_key_pem", "key_pem", "cert_pem", "chain_pem", "full_pem", "eab_secret", "eab_kid",
        "acme_account_key", "hmac", "hmac_key", "signature", "auth", "authorization", "bearer", "routing_key",
        "webhook_url", "encryption_key", "cookie", "session", "sessionid", "csrfmiddlewaretoken", "key",
    }
)  # fmt: skip
# Names that contain one of these words are credentials too: smtp_password, webhook_secret, x_auth_token.
CREDENTIAL_WORDS = ("password", "passwd", "passphrase", "secret", "token", "private_key", "api_key", "apikey",
                    "credential", "signature", "authorization")  # fmt: skip
# Values that are credentials whatever their key is called: PEM private keys, certctl API keys (`cctl_…`) and
# agent credentials (`cagt.<agent id>.<secret>`).
CREDENTIAL_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bcctl_[A-Za-z0-9_-]{16,}|\bcagt\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}"
)


def is_credential_key(key: object) -> bool:
    name = str(key).lower().replace("-", "_")
    return name in CREDENTIAL_KEYS or any(word in name for word in CREDENTIAL_WORDS)


def _walk(value: Any, path: str, redacted: list[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            dotted = f"{path}.{key}" if path else str(key)
            if is_credential_key(key):
                out[key] = REDACTED
                redacted.append(dotted)
            else:
                out[key] = _walk(item, dotted, redacted)
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(item, f"{path}[{i}]", redacted) for i, item in enumerate(value)]
    if isinstance(value, str) and CREDENTIAL_VALUE.search(value):
        redacted.append(path)
        return REDACTED
    return value


def redact(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of `details` with credentials replaced; `redacted_keys` lists the dotted paths replaced."""
    if not details:
        return None
    redacted: list[str] = []
    clean = _walk(details, "", redacted)
    if redacted:
        clean["redacted_keys"] = redacted
    return clean


def redact_query(query: str) -> str:
    """The query string with the values of secret-like parameters replaced (`?token=[REDACTED]&page=2`)."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    clean = [
        (key, REDACTED if is_credential_key(key) or CREDENTIAL_VALUE.search(value) else value)
        for key, value in pairs
    ]
    return urlencode(clean, safe="[]")
