"""Issuer configuration: public `config` and secrets kept encrypted in `encrypted_config`.

Secrets reach the server once (the API's write-only `secrets` field) and are merged into the encrypted blob,
so a local CA's private key stored by `ca_store.store_ca` survives an update that sets an ACME token.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from certctl.kernel.crypto import decrypt_json, encrypt_json
from certificates.inventory.models import Issuer


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
