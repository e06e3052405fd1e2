from rest_framework.throttling import SimpleRateThrottle

from certctl.api.principal import Principal


class ClientRateThrottle(SimpleRateThrottle):
    """A token bucket per API key or user, per client IP for anonymous callers."""

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"{user.kind}:{user.name}" if isinstance(user, Principal) else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
