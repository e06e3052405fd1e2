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


class ClientRateThrottle(SimpleRateThrottle):
    """A token bucket per API key or user, per client IP for anonymous callers."""

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"{user.kind}:{user.name}" if isinstance(user, Principal) else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


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
