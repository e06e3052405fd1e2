"""Per-agent credentials: `Authorization: Bearer cagt.<agent id>.<secret>`, stored only as a SHA-256 hash.

The agent id inside the credential selects the row; the secret is checked by a constant-time compare of hashes,
so a leaked operator API key cannot act as an agent and one agent's credential cannot act as another agent.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from certctl.api.authentication import bearer_token, key_by_digest, key_principal
from certctl.api.principal import Principal
from certctl.api.throttling import failures_counted
from certctl.kernel.credentials import agent_id_of, hash_key
from certificates.inventory.models import Agent


class AgentAuthentication(authentication.BaseAuthentication):
    """Authenticates an agent by its own credential; retired agents still authenticate (the view answers 410)."""

    def authenticate(self, request):
        with failures_counted(request):
            token = bearer_token(request)
            if token is None:
                return None
            agent_id = agent_id_of(token)
            agent = Agent.objects.filter(pk=agent_id).first() if agent_id else None
            stored = agent.api_key_hash if agent is not None else ""
            # Compare even when the agent is unknown so a miss costs the same as a wrong secret.
            if not hmac.compare_digest(stored or "0" * 64, hash_key(token)) or agent is None or not stored:
                raise exceptions.AuthenticationFailed("Invalid agent credential")
        return Principal(name=agent.name, kind="agent", object_id=agent.pk), agent

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="certctl-agent"'


class IsAgent(BasePermission):
    message = "This endpoint requires an agent credential"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Principal) and request.user.kind == "agent"


def bootstrap_token_matches(presented: str | None) -> bool:
    """Constant-time check of the registration token; False when none is configured or none presented."""
    expected = settings.AGENT_BOOTSTRAP_TOKEN
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


class BootstrapRejected(exceptions.AuthenticationFailed):
    error_code = "invalid_or_missing_bootstrap_token"
    default_detail = "Registering an agent needs the bootstrap token (or an admin API key)"


class BootstrapAuthentication(authentication.BaseAuthentication):
    """Agent registration: the shared bootstrap token (CERTCTL_AGENT_BOOTSTRAP_TOKEN) or an admin API key."""

    def authenticate(self, request):
        with failures_counted(request):
            token = bearer_token(request)
            if token is None:
                return None
            if bootstrap_token_matches(token):
                return Principal(name="bootstrap-token", kind="bootstrap"), None
            api_key = key_by_digest(hash_key(token))
            if api_key is None or not api_key.is_admin or api_key.expired(timezone.now()):
                raise BootstrapRejected()
        return key_principal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="certctl"'


class CanRegisterAgent(BasePermission):
    message = BootstrapRejected.default_detail

    def has_permission(self, request, view) -> bool:
        user = request.user
        return isinstance(user, Principal) and (user.kind == "bootstrap" or user.is_admin)
