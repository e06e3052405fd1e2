"""API key material: generation and hashing. Only hashes are stored."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "cctl_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()
