"""API authentication: `Authorization: Bearer <key>` for automation, the Django session for staff."""

from __future__ import annotations

import functools
import hmac

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from certctl.api.models import ApiKey, TeamMembership
from certctl.api.principal import Principal
from certctl.api.scopes import SCOPES
from certctl.api.throttling import failures_counted
from certctl.kernel.credentials import hash_key


def bearer_token(request) -> str | None:
    """The bearer token of the request, None without an Authorization header; 401 on a malformed one."""
    header = authentication.get_authorization_header(request).decode("latin-1")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise exceptions.AuthenticationFailed("Invalid Authorization header format, expected: Bearer <token>")
    return token.strip()


def keys_with_binding():
    """API keys, each annotated with whether it is bound to teams (so an unbound key costs one query)."""
    bound = ApiKey.teams.through.objects.filter(apikey_id=OuterRef("pk"))
    return ApiKey.objects.annotate(team_bound=Exists(bound))


_DIGEST = "certctl-key-digest"  # stands for the digest in the compiled lookup


@functools.cache
def _key_lookup() -> tuple[str, tuple]:
    """The live key lookup's SQL and parameters, compiled once per process: compiling it cost twice what running it
    did, on every API request."""
    query = keys_with_binding().filter(key_hash=_DIGEST, revoked_at__isnull=True).order_by()[:1].query
    sql, params = query.sql_with_params()
    if params.count(_DIGEST) != 1:
        raise RuntimeError("the API key lookup's parameters changed shape")
    return sql, params


def key_by_digest(digest: str) -> ApiKey | None:
    """The unrevoked key with this hash, annotated `team_bound`, or None."""
    sql, params = _key_lookup()
    rows = ApiKey.objects.raw(sql, [digest if p == _DIGEST else p for p in params])
    return next(iter(rows), None)


def key_principal(api_key: ApiKey) -> Principal:
    bound = getattr(api_key, "team_bound", True)
    teams = frozenset(api_key.teams.values_list("pk", flat=True)) if bound else frozenset()
    return Principal(
        name=api_key.name,
        kind="api_key",
        scopes=frozenset(api_key.scopes or ()),
        object_id=api_key.pk,
        teams=teams or None,
    )


def staff_teams(user) -> frozenset[str] | None:
    """The teams a staff user is bound to; None (every team) for a superuser or a user without memberships."""
    if user.is_superuser:
        return None
    return frozenset(TeamMembership.objects.filter(user=user).values_list("team_id", flat=True)) or None


def staff_principal(user) -> Principal:
    """A staff user's API rights: the `certctl.api_*` permissions their groups give (a superuser has them all)."""
    scopes = frozenset(scope for scope in SCOPES if user.has_perm(f"certctl.api_{scope}"))
    return Principal(
        name=user.get_username(), kind="user", scopes=scopes, object_id=str(user.pk), teams=staff_teams(user)
    )


class APIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        with failures_counted(request):
            token = bearer_token(request)
            if token is None:
                return None
            digest = hash_key(token)
            api_key = key_by_digest(digest)
            # The lookup is by a hash of a 256-bit random key; the compare is constant-time all the same.
            if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
                raise exceptions.AuthenticationFailed("Invalid API key")
            now = timezone.now()
            if api_key.expired(now):
                raise exceptions.AuthenticationFailed("API key expired")
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return key_principal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="certctl"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Staff logged into the admin may use the browsable API (CSRF enforced on unsafe methods)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        if not user.is_staff:
            return None
        return staff_principal(user), None


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = APIKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Operators and automation: `Authorization: Bearer <api key>` (Admin -> API keys)",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = StaffSessionAuthentication
    name = "staffSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
