"""Counts shared by every web process, in Django's default cache: Redis when REDIS_URL is set, else files.

With Redis, a count is a plain integer under the cache's own key (its KEY_PREFIX and version applied), changed with
INCR in one pipelined round trip; other cache backends go through Django's cache API (`incr`, else `add`).
"""

from __future__ import annotations

import contextlib

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCacheClient

# backend client object -> its redis-py client: Django's get_client() builds a new client on every call.
_clients: dict[int, tuple[RedisCacheClient, object]] = {}


def redis_client():
    """The redis-py client behind Django's Redis cache backend (one per backend instance), or None."""
    backend = getattr(cache, "_cache", None)
    if not isinstance(backend, RedisCacheClient):
        return None
    entry = _clients.get(id(backend))
    if entry is None or entry[0] is not backend:
        if len(_clients) > 64:  # settings changes (tests) make new backends
            _clients.clear()
        entry = _clients[id(backend)] = (backend, backend.get_client(write=True))
    return entry[1]


def count_in_window(key: str, window: int, timeout: int) -> tuple[int, int]:
    """Add one to `key`'s count in `window` and return (that count, the count of the window before)."""
    name, previous_name = f"{key}:{window}", f"{key}:{window - 1}"
    client = redis_client()
    if client is not None:
        current_key = cache.make_key(name)
        pipe = client.pipeline(transaction=False)
        pipe.incr(current_key)
        pipe.expire(current_key, timeout)
        pipe.get(cache.make_key(previous_name))
        current, _, previous = pipe.execute()
        return int(current), int(previous or 0)
    try:
        current = cache.incr(name)
    except ValueError:
        current = 1 if cache.add(name, 1, timeout=timeout) else cache.incr(name)
    return current, int(cache.get(previous_name) or 0)


def uncount(key: str, window: int) -> None:
    """Take back one count of `key` in `window` (a request that was refused)."""
    client = redis_client()
    if client is not None:
        client.decr(cache.make_key(f"{key}:{window}"))
        return
    with contextlib.suppress(ValueError):  # expired meanwhile
        cache.decr(f"{key}:{window}")
