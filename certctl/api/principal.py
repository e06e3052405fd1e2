"""Who is calling: one small object for API keys, staff sessions and agents, used as the audit actor."""

from __future__ import annotations

from dataclasses import dataclass

from certctl.api.scopes import ADMIN, grants


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # "api_key" | "user" | "agent" | "bootstrap"
    scopes: frozenset[str] = frozenset()
    object_id: str = ""
    # None: every team's rows; a set of team ids: only those teams' rows (a team-bound key or staff user).
    teams: frozenset[str] | None = None

    is_authenticated = True
    is_anonymous = False

    @property
    def actor_type(self) -> str:
        return "Agent" if self.kind == "agent" else "User"

    @property
    def is_staff(self) -> bool:  # the browsable API asks
        return self.kind == "user"

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def has_scope(self, scope: str) -> bool:
        return grants(self.scopes, scope)

    def __str__(self) -> str:
        return self.name
