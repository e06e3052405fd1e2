"""Per-source-IP limit for the unauthenticated OCSP responder (spec §5.5).

OCSP needs no key, and a request that misses the response cache costs a signature, so one client must not be able
to keep the responder busy. Requests are counted per `REMOTE_ADDR` in fixed one-minute windows in Django's default
cache (Redis when REDIS_URL is set), so the limit holds across all web processes: one atomic increment per request.
`X-Forwarded-For` is ignored: it is the client's to forge. Behind a reverse proxy every request comes from the
proxy, so raise the limit or set it to 0 there.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.core.cache import cache

RETRY_AFTER_SECONDS = 60


class _Limiter:
    def __init__(self) -> None:
        self._namespace = "certctl:ocsp"  # the same in every process: that is what shares the count

    def reset(self) -> None:
        """Tests: count from zero in this process (a namespace of its own, no longer shared with other processes)."""
        self._namespace = f"certctl:ocsp:{secrets.token_hex(4)}"

    def allow(self, address: str) -> bool:
        limit = settings.OCSP_RATE_LIMIT_PER_IP_MIN
        if limit <= 0:
            return True
        window = int(time.time() // 60)  # wall-clock minutes: a clock step only moves a boundary
        key = f"{self._namespace}:{address}:{window}"
        # incr, else add: each atomic in Redis, so concurrent requests on several workers are all counted.
        try:
            count = cache.incr(key)
        except ValueError:
            count = 1 if cache.add(key, 1, timeout=RETRY_AFTER_SECONDS + 1) else cache.incr(key)
        return count <= limit


limiter = _Limiter()
