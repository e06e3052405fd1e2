"""Agent groups: who is a member (explicit members plus the agents matching every criterion set), and the
audited create, change and delete of groups."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from audit.services.record import record
from certificates.agents.models import AgentGroup
from certificates.inventory.models import Agent


def normalised_cidr(value: str) -> str:
    """`10.1.2.3/8` -> `10.0.0.0/8`; ValueError for what is not a network."""
    return str(ipaddress.ip_network(value.strip(), strict=False)) if value.strip() else ""


def members(group: AgentGroup) -> list[Agent]:
    """The group's live (not retired) agents, by name: explicit members, and those matching its criteria.

    OS and architecture are compared case-insensitively in the database; the CIDR test (IPv4 and IPv6, with
    IPv4-mapped IPv6 addresses matched against IPv4 ranges) runs on the candidates in Python."""
    live = Agent.objects.filter(retired_at__isnull=True)
    found = {agent.pk: agent for agent in live.filter(agent_groups=group)}
    if group.has_criteria:
        candidates = live.exclude(pk__in=found)
        if group.match_os:
            candidates = candidates.filter(os__iexact=group.match_os)
        if group.match_architecture:
            candidates = candidates.filter(architecture__iexact=group.match_architecture)
        found.update({agent.pk: agent for agent in candidates if group.matches(agent)})
    return sorted(found.values(), key=lambda agent: (agent.name, agent.pk))


def member_ids(group: AgentGroup) -> set[str]:
    return {agent.pk for agent in members(group)}


def _audit(action: str, group: AgentGroup, actor: str, actor_type: str, details: dict[str, Any]) -> None:
    record(
        action,
        resource_type="agent_group",
        resource_id=group.pk,
        actor=actor,
        actor_type=actor_type,
        details={"name": group.name, **details},
    )


def _criteria(group: AgentGroup) -> dict[str, Any]:
    return {
        "match_os": group.match_os,
        "match_architecture": group.match_architecture,
        "match_cidr": group.match_cidr,
        "enabled": group.enabled,
    }


def create_group(
    fields: dict[str, Any], *, explicit_members: Iterable[Agent] = (), actor: str, actor_type: str
) -> AgentGroup:
    """Create a group with its explicit members; a duplicate name raises IntegrityError (the API's 409)."""
    explicit_members = list(explicit_members)
    with transaction.atomic():
        group = AgentGroup(**fields)
        group.match_cidr = normalised_cidr(group.match_cidr)
        group.save()
        group.explicit_members.set(explicit_members)
        _audit(
            "agent_group_created",
            group,
            actor,
            actor_type,
            {**_criteria(group), "member_ids": sorted(a.pk for a in explicit_members)},
        )
    return group


def update_group(
    group: AgentGroup,
    changes: dict[str, Any],
    *,
    explicit_members: Iterable[Agent] | None = None,
    actor: str,
    actor_type: str,
) -> AgentGroup:
    """Change some fields (and, when given, replace the explicit members); audited with what changed."""
    explicit_members = None if explicit_members is None else list(explicit_members)
    with transaction.atomic():
        for name, value in changes.items():
            setattr(group, name, value)
        group.match_cidr = normalised_cidr(group.match_cidr)
        group.save()
        details: dict[str, Any] = {"changed": sorted(changes), **_criteria(group)}
        if explicit_members is not None:
            group.explicit_members.set(explicit_members)
            details["member_ids"] = sorted(a.pk for a in explicit_members)
        _audit("agent_group_updated", group, actor, actor_type, details)
    return group


def delete_group(group: AgentGroup, *, actor: str, actor_type: str) -> None:
    with transaction.atomic():
        _audit("agent_group_deleted", group, actor, actor_type, {})
        group.delete()
