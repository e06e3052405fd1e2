"""Request throttles, and the per-address guard against guessing credentials (docs/security.md).

Every count lives in Django's default cache, which settings point at Redis when REDIS_URL is set (else at files in
the data dir): a limit holds across all web processes, not per process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from certctl.api.principal import Principal
from certctl.kernel.shared_counts import count_in_window, uncount


class ClientRateThrottle(SimpleRateThrottle):
    """`CERTCTL_RATE_LIMIT` requests per API key or user (per client IP for anonymous callers), across all web
    processes: a sliding window estimated from two fixed windows (this window's count plus the last window's,
    weighted by how much of it the sliding window still covers), one round trip to Redis per request.

    DRF's own throttle kept every request's timestamp in one cache entry, read and written whole on every request:
    at the default 6,000/min a busy client's entry held up to 6,000 floats, ~50 KB pickled, twice per request.
    A refused request is not counted, as with DRF's."""

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"{user.kind}:{user.name}" if isinstance(user, Principal) else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now, period, limit = self.timer(), self.duration, self.num_requests
        window = int(now // period)
        elapsed = (now - window * period) / period  # of this window, 0..1
        current, previous = count_in_window(self.key, window, int(2 * period) + 1)
        if previous * (1 - elapsed) + current <= limit:
            return True
        uncount(self.key, window)
        self._wait = _seconds_until_under(limit, current - 1, previous, elapsed, period)
        return False

    def wait(self) -> float:
        return self._wait


def _seconds_until_under(limit: int, current: int, previous: int, elapsed: float, period: float) -> float:
    """When one more request fits (`current` requests counted in this window so far), if none comes meanwhile:
    the last window's weight fades during this one; past it, this window's count is the one that fades."""
    if current < limit:  # within this window, once previous x (1 - t) + current + 1 <= limit
        fraction = 1 - (limit - current - 1) / previous if previous else elapsed
        return max(1.0, (fraction - elapsed) * period)
    fraction = 1 - (limit - 1) / current  # into the next window, where current x (1 - t) + 1 <= limit
    return max(1.0, (1 - elapsed) * period + fraction * period)


def client_address(request) -> str:
    """The address limits are counted by: REMOTE_ADDR. `X-Forwarded-For` is the client's to forge, so it is ignored."""
    return request.META.get("REMOTE_ADDR", "")


class TooManyFailedAuthentications(exceptions.Throttled, exceptions.AuthenticationFailed):
    """429 with Retry-After; an AuthenticationFailed too, so a caller that handles failed credentials handles it."""

    default_detail = "Too many failed authentications from this address"

    def __init__(self, wait: float) -> None:
        super().__init__(wait=wait, detail=f"{self.default_detail}; retry in {int(wait) + 1} seconds")


def _failure_window(request) -> tuple[str, int, float]:
    """The cache key of this address's current window, the limit and the seconds until the window ends."""
    limit, period = SimpleRateThrottle.parse_rate(None, settings.AUTH_FAILURE_LIMIT)
    now = time.time()
    window = int(now // period)
    key = f"certctl:auth-failures:{client_address(request)}:{window}"
    return key, limit, (window + 1) * period - now


@contextmanager
def failures_counted(request) -> Iterator[None]:
    """Around a credential check: refuse (429) an address over CERTCTL_AUTH_FAILURE_LIMIT before checking anything,
    and count each AuthenticationFailed it raises. Successful authentications are not counted."""
    key, limit, remaining = _failure_window(request)
    if authentication.get_authorization_header(request) and (cache.get(key) or 0) >= limit:
        raise TooManyFailedAuthentications(wait=remaining)
    try:
        yield
    except exceptions.AuthenticationFailed:
        # incr, else add: each atomic in Redis, so concurrent failures on several workers are all counted.
        try:
            cache.incr(key)
        except ValueError:
            if not cache.add(key, 1, timeout=int(remaining) + 1):
                cache.incr(key)
        raise


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins made over HTTP. A login without a request (a shell, a management
    command, the test client's `login()`) has no address to lock out, and axes would refuse it outright."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
