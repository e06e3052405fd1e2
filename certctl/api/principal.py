"""Who is calling: one small object for API keys, staff sessions and agents, used as the audit actor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # "api_key" | "user" | "agent"
    is_admin: bool = False
    object_id: str = ""

    is_authenticated = True
    is_anonymous = False

    @property
    def actor_type(self) -> str:
        return "Agent" if self.kind == "agent" else "User"

    @property
    def is_staff(self) -> bool:  # the browsable API asks
        return self.kind == "user"

    def __str__(self) -> str:
        return self.name
