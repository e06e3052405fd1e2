"""Per-source-IP limit for the unauthenticated OCSP responder (spec §5.5).

OCSP needs no key, and a request that misses the response cache costs a signature, so one client must not be able
to keep the responder busy. Each process counts requests per `REMOTE_ADDR` in fixed one-minute windows, in memory
(no I/O on the hot path; with N web processes a client gets up to N times the limit). `X-Forwarded-For` is
ignored: it is the client's to forge. Behind a reverse proxy every request comes from the proxy, so raise the
limit or set it to 0 there.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

RETRY_AFTER_SECONDS = 60
_MAX_TRACKED = 100_000  # distinct addresses per window before the table is reset (memory bound)


class _Limiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._window = -1
            self._counts: dict[str, int] = {}

    def allow(self, address: str) -> bool:
        limit = settings.OCSP_RATE_LIMIT_PER_IP_MIN
        if limit <= 0:
            return True
        window = int(time.time() // 60)  # wall-clock minutes: a clock step only moves a boundary
        with self._lock:
            if window != self._window or len(self._counts) >= _MAX_TRACKED:
                self._window, self._counts = window, {}
            count = self._counts.get(address, 0) + 1
            self._counts[address] = count
        return count <= limit


limiter = _Limiter()
