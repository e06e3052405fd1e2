"""The API's permission check: an authenticated key or staff user holding the scope the operation needs."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from certctl.api.principal import Principal
from certctl.api.scopes import scope_for


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"
    error_code = "insufficient_scope"


class HasScope(BasePermission):
    """The default: a key or staff session whose scopes grant what the operation needs (certctl.api.scopes)."""

    message = "Authentication required"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (isinstance(user, Principal) and user.kind in {"api_key", "user"}):
            return False
        needed = scope_for(view, request.method)
        if not user.has_scope(needed):
            raise InsufficientScope(
                f"this operation needs the `{needed}` scope; this key has: "
                f"{', '.join(sorted(user.scopes)) or 'none'}"
            )
        return True
