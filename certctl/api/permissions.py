from rest_framework.permissions import BasePermission

from certctl.api.principal import Principal


class IsAuthenticatedClient(BasePermission):
    message = "Authentication required"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Principal) and request.user.kind in {"api_key", "user"}


class IsAdminClient(BasePermission):
    message = "This endpoint requires an admin API key"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Principal) and request.user.is_admin
