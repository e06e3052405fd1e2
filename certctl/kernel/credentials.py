"""Credential material for API keys and agents: generation and hashing. Only hashes are stored."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "cctl_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


CREDENTIAL_PREFIX = "cagt"


def generate_agent_credential(agent_id: str) -> str:
    return f"{CREDENTIAL_PREFIX}.{agent_id}.{secrets.token_urlsafe(32)}"


def agent_id_of(credential: str) -> str | None:
    prefix, _, rest = credential.partition(".")
    agent_id, _, secret = rest.partition(".")
    if prefix != CREDENTIAL_PREFIX or not agent_id or not secret:
        return None
    return agent_id
