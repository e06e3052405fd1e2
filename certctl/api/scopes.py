"""API scopes: what a key (or a staff user, through Django permissions) may do, and what each operation needs.

`read` reads everything it may see; `write` changes the inventory and runs the lifecycle (issue, renew, revoke one
certificate, deploy); `approve` decides approval requests; `admin` covers the rest (issuers, profiles, renewal
policies, teams, destinations, compliance rules, agent retirement, bulk revoke, private key export, keys) and
implies every other scope.

A view says what it needs with class attributes, read by the permission check and by the OpenAPI schema alike:
`read_scope` (safe methods, default `read`), `write_scope` (other methods, default `write`) and `action_scopes`
(a viewset action's name -> scope).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

READ, WRITE, APPROVE, ADMIN = "read", "write", "approve", "admin"
SCOPES = (READ, WRITE, APPROVE, ADMIN)
LEGACY_ADMIN = [ADMIN]
LEGACY_DEFAULT = [READ, WRITE]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def default_scopes() -> list[str]:
    return [READ]


def validate_scopes(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("give at least one scope")
    unknown = sorted({str(s) for s in value} - set(SCOPES))
    if unknown:
        raise ValidationError(f"unknown scope(s) {', '.join(unknown)} (valid: {', '.join(SCOPES)})")


def normalized(scopes: Iterable[str]) -> list[str]:
    """The scopes in their canonical order, without repeats."""
    given = set(scopes)
    return [scope for scope in SCOPES if scope in given]


def grants(held: Iterable[str], needed: str) -> bool:
    held = set(held)
    return needed in held or ADMIN in held


def scope_for(view, method: str) -> str:
    """The scope an operation needs: the view's action override, else by method."""
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_scopes", None) or {}
    if action in per_action:
        return per_action[action]
    if method.upper() in SAFE_METHODS:
        return getattr(view, "read_scope", READ)
    return getattr(view, "write_scope", WRITE)


def requires_scope(scope: str, *, read: str | None = None):
    """For a function view made by `@api_view` (put it above): every method of it needs `scope`."""

    def mark(view):
        target = getattr(view, "cls", view)
        target.write_scope = scope
        target.read_scope = read or scope
        return view

    return mark
