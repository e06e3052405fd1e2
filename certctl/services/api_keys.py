"""Creating, changing and revoking API keys; the raw key exists only in the return value of `create_api_key`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from certctl.api.models import ApiKey
from certctl.api.scopes import LEGACY_ADMIN, LEGACY_DEFAULT, normalized, validate_scopes
from certctl.kernel.credentials import generate_key, hash_key
from certctl.kernel.fields import name_problem


class ApiKeyNameTaken(Exception):
    pass


class ApiKeyNameInvalid(ValueError):
    pass


def scopes_for_admin_flag(is_admin: bool) -> list[str]:
    """The scopes of a key made with the old admin flag: admin, else read and write (today's rights)."""
    return list(LEGACY_ADMIN if is_admin else LEGACY_DEFAULT)


def _checked(scopes: Iterable[str]) -> list[str]:
    scopes = list(scopes)
    try:
        validate_scopes(scopes)
    except ValidationError as exc:
        raise ApiKeyNameInvalid(exc.messages[0]) from exc
    return normalized(scopes)


def _state(api_key: ApiKey) -> dict:
    return {
        "scopes": list(api_key.scopes),
        "teams": sorted(api_key.teams.values_list("pk", flat=True)),
        "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
    }


def create_api_key(
    name: str,
    *,
    scopes: Iterable[str],
    actor: str,
    actor_type: str = "User",
    teams: Iterable = (),
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key named `name`; returns the row and the raw key, which is never stored."""
    problem = name_problem(ApiKey, name)
    if problem:
        raise ApiKeyNameInvalid(f"the key name {problem}")
    scopes = _checked(scopes)
    raw = generate_key()
    with transaction.atomic():
        if ApiKey.objects.filter(name=name).exists():
            raise ApiKeyNameTaken(f"an API key named {name!r} already exists")
        api_key = ApiKey.objects.create(
            name=name, key_prefix=raw[:12], key_hash=hash_key(raw), scopes=scopes, expires_at=expires_at
        )
        api_key.teams.set(list(teams))
        record(
            "api_key_created",
            resource_type="api_key",
            resource_id=api_key.id,
            actor=actor,
            actor_type=actor_type,
            details={"key_name": name, **_state(api_key)},
        )
    return api_key, raw


def update_api_key(
    api_key: ApiKey,
    *,
    scopes: Iterable[str],
    teams: Iterable,
    expires_at: datetime | None,
    actor: str,
    actor_type: str = "User",
) -> ApiKey:
    """Change what a key may do; audited with the values before and after."""
    scopes = _checked(scopes)
    with transaction.atomic():
        row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        before = _state(row)
        row.scopes, row.expires_at = scopes, expires_at
        row.save(update_fields=["scopes", "expires_at"])
        row.teams.set(list(teams))
        after = _state(row)
        if before != after:
            record(
                "api_key_changed",
                resource_type="api_key",
                resource_id=row.id,
                actor=actor,
                actor_type=actor_type,
                details={"key_name": row.name, "before": before, "after": after},
            )
    return row


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
