"""Per-source-IP limit for the unauthenticated OCSP responder (spec §5.5).

OCSP needs no key, and a request that misses the response cache costs a signature, so one client must not be able
to keep the responder busy. Requests are counted per `REMOTE_ADDR` in fixed one-minute windows in Django's default
cache (Redis when REDIS_URL is set), so the limit holds across all web processes; with Redis each process adds
its counts in batches of 1 % of the limit, and every request once a client nears it (`_Limiter._allow_batched`).
`X-Forwarded-For` is ignored: it is the client's to forge. Behind a reverse proxy every request comes from the
proxy, so raise the limit or set it to 0 there.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

from django.conf import settings
from django.core.cache import cache

from certctl.kernel.shared_counts import redis_client

RETRY_AFTER_SECONDS = 60
MAX_PENDING_ADDRESSES = 100_000


class _Limiter:
    def __init__(self) -> None:
        self._namespace = "certctl:ocsp"  # the same in every process: that is what shares the count
        self._client, self._client_pid = None, 0
        # Requests counted here and not yet added to the shared count: (address key) -> (pending, last shared total)
        self._pending: dict[str, tuple[int, int]] = {}
        self._window = 0
        self._lock = threading.Lock()

    def _redis(self):
        # One client per process (Django's get_client builds a new one per call; the pool is per process).
        if self._client_pid != os.getpid():
            self._client, self._client_pid = redis_client(), os.getpid()
            self._pending = {}
        return self._client

    def reset(self) -> None:
        """Tests: count from zero in this process (a namespace of its own, no longer shared with other processes)."""
        self._namespace = f"certctl:ocsp:{secrets.token_hex(4)}"
        self._pending = {}

    def allow(self, address: str) -> bool:
        limit = settings.OCSP_RATE_LIMIT_PER_IP_MIN
        if limit <= 0:
            return True
        window = int(time.time() // 60)  # wall-clock minutes: a clock step only moves a boundary
        key = f"{self._namespace}:{address}:{window}"
        redis = self._redis()
        if redis is not None:
            return self._allow_batched(redis, key, window, limit)
        # incr, else add: each atomic in Redis, so concurrent requests on several workers are all counted.
        try:
            count = cache.incr(key)
        except ValueError:
            count = 1 if cache.add(key, 1, timeout=RETRY_AFTER_SECONDS + 1) else cache.incr(key)
        return count <= limit

    def _allow_batched(self, redis, key: str, window: int, limit: int) -> bool:
        """Count in this process and add to the shared count in Redis every `batch` requests (1 % of the limit),
        and on every request once the shared count is within a batch of the limit: a Redis round trip per
        request cost as much as a cached OCSP answer. A client gets at most (processes x batch) requests more
        than the limit; with a limit under 200 every request is counted in Redis at once, as before."""
        batch = max(1, limit // 100)
        with self._lock:
            if window != self._window or len(self._pending) > MAX_PENDING_ADDRESSES:
                self._pending, self._window = {}, window  # earlier windows' counts are no longer needed
            pending, shared = self._pending.get(key, (0, 0))
            pending += 1
            if pending >= batch or shared + batch >= limit:
                name = cache.make_key(key)
                # INCRBY creates the key; only the request that created it sets its expiry (one round trip).
                shared, pending = redis.incrby(name, pending), 0
                if shared <= batch:
                    redis.expire(name, RETRY_AFTER_SECONDS + 1)
            self._pending[key] = (pending, shared)
            return shared + pending <= limit


limiter = _Limiter()
