"""API keys named in `CERTCTL_API_KEYS_NAMED` (the reference product's variable), made rows after each `migrate`.

Connected to `post_migrate` (certctl/apps.py), so it runs once per deployment step, in one process, never in each
gunicorn worker. Each key is stored like any other: its SHA-256 only. A row it made is marked by the key prefix
`ENV_KEY_PREFIX` (the key itself is the operator's, maybe short: none of it is shown). Names are unique, so two
runs at once cannot make two rows (the loser retries and updates). A second key of one name (rotation) is the
row `<name>~2`, the third `<name>~3`. Once the variable is set, a marked row whose name it no longer
lists is revoked; when the variable is unset or empty nothing changes (a process started without it must not
revoke every key). A key created in the admin or by `manage.py create_api_key` is never taken over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services.record import record
from certctl.api.models import ApiKey
from certctl.kernel.credentials import hash_key
from certctl.services.api_keys import scopes_for_admin_flag

logger = logging.getLogger(__name__)

ENV_KEY_PREFIX = "(env)"
ACTOR = "CERTCTL_API_KEYS_NAMED"
OUTCOMES = ("created", "updated", "unchanged", "skipped", "revoked")


def _audit(action: str, api_key: ApiKey, now: datetime, **details) -> None:
    record(
        action,
        resource_type="api_key",
        resource_id=api_key.id,
        actor=ACTOR,
        details={"key_name": api_key.name, "source": "environment", **details},
        now=now,
    )


def _free_name(name: str, taken: set[str]) -> str:
    """`name`, else `<name>~2`, `<name>~3`: the row a further key of one name gets."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}~{n}"
    return candidate


def _sync_all(keys: Iterable, now: datetime) -> dict[str, int]:
    """A row that already holds a key keeps it (whatever its name); a new key takes its name's first free row,
    replacing the key of an environment row no longer listed (rotation); the rest of those are revoked."""
    outcomes = dict.fromkeys(OUTCOMES, 0)
    rows = {row.name: row for row in ApiKey.objects.select_for_update().filter(key_prefix=ENV_KEY_PREFIX)}
    by_hash = {row.key_hash: row for row in rows.values()}
    kept: set[str] = set()
    pending = []
    for name, key, is_admin in keys:
        row = by_hash.get(hash_key(key))
        if row is None:
            pending.append((name, key, is_admin))
            continue
        kept.add(row.name)
        if (sorted(row.scopes), row.revoked_at) != (sorted(scopes_for_admin_flag(is_admin)), None):
            row.scopes, row.revoked_at = scopes_for_admin_flag(is_admin), None
            row.save(update_fields=["scopes", "revoked_at"])
            _audit("api_key_updated", row, now, admin=is_admin)
            outcomes["updated"] += 1
        else:
            outcomes["unchanged"] += 1
    for name, key, is_admin in pending:
        row_name = _free_name(name, kept)
        kept.add(row_name)
        row = rows.get(row_name)
        if row is None:
            if ApiKey.objects.filter(name=row_name).exists():
                logger.error(
                    "CERTCTL_API_KEYS_NAMED names a key created in certctl; it is left as it is",
                    extra={"key_name": row_name},
                )
                outcomes["skipped"] += 1
                continue
            row = ApiKey.objects.create(
                name=row_name,
                key_prefix=ENV_KEY_PREFIX,
                key_hash=hash_key(key),
                scopes=scopes_for_admin_flag(is_admin),
            )
            _audit("api_key_created", row, now, admin=is_admin)
            outcomes["created"] += 1
            continue
        row.key_hash, row.scopes, row.revoked_at = hash_key(key), scopes_for_admin_flag(is_admin), None
        row.save(update_fields=["key_hash", "scopes", "revoked_at"])
        _audit("api_key_updated", row, now, admin=is_admin, key_replaced=True)
        outcomes["updated"] += 1
    for row in rows.values():
        if row.name not in kept and row.revoked_at is None:
            row.revoked_at = now
            row.save(update_fields=["revoked_at"])
            _audit("api_key_revoked", row, now, reason="no longer in CERTCTL_API_KEYS_NAMED")
            outcomes["revoked"] += 1
    return outcomes


def sync_named_api_keys(keys: Iterable | None = None, *, now: datetime | None = None) -> dict[str, int]:
    """Create, update and revoke the environment's named keys; returns how many rows had each outcome."""
    keys = settings.API_KEYS_NAMED if keys is None else tuple(keys)
    outcomes = dict.fromkeys(OUTCOMES, 0)
    if not keys:
        return outcomes
    now = now or timezone.now()
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                outcomes = _sync_all(keys, now)
            break
        except IntegrityError:
            # A concurrent run created a row first (the retry updates it), or key_hash, which is unique, is
            # already another key's (the value is never shown).
            if attempt == 2:
                raise ImproperlyConfigured(
                    "CERTCTL_API_KEYS_NAMED: a key is already in use by another API key; choose a new key"
                ) from None
    if any(outcomes[o] for o in ("created", "updated", "revoked")):
        logger.info("synchronised CERTCTL_API_KEYS_NAMED", extra={"outcomes": outcomes})
    return outcomes


def sync_after_migrate(**kwargs) -> None:
    """post_migrate receiver (certctl/apps.py)."""
    sync_named_api_keys()
