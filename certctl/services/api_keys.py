"""Creating and revoking API keys; the raw key exists only in the return value of `create_api_key`."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from certctl.api.models import ApiKey
from certctl.kernel.credentials import generate_key, hash_key
from certctl.kernel.fields import name_problem


class ApiKeyNameTaken(Exception):
    pass


class ApiKeyNameInvalid(ValueError):
    pass


def create_api_key(name: str, is_admin: bool, actor: str, actor_type: str = "User") -> tuple[ApiKey, str]:
    """Create a key named `name`; returns the row and the raw key, which is never stored."""
    problem = name_problem(ApiKey, name)
    if problem:
        raise ApiKeyNameInvalid(f"the key name {problem}")
    raw = generate_key()
    with transaction.atomic():
        if ApiKey.objects.filter(name=name).exists():
            raise ApiKeyNameTaken(f"an API key named {name!r} already exists")
        api_key = ApiKey.objects.create(
            name=name, key_prefix=raw[:12], key_hash=hash_key(raw), is_admin=is_admin
        )
        record(
            "api_key_created",
            resource_type="api_key",
            resource_id=api_key.id,
            actor=actor,
            actor_type=actor_type,
            details={"key_name": name, "admin": is_admin},
        )
    return api_key, raw


def revoke_api_key(
    api_key: ApiKey, actor: str, actor_type: str = "User", now: datetime | None = None
) -> bool:
    """Revoke a key; idempotent (False when it was already revoked)."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
        if changed:
            record(
                "api_key_revoked",
                resource_type="api_key",
                resource_id=api_key.id,
                actor=actor,
                actor_type=actor_type,
                details={"key_name": api_key.name},
            )
    return bool(changed)
