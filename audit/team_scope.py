"""Which audit rows a team-bound caller may read: those about rows of its teams.

Apps above audit register the models whose rows carry a team (`team_lookups`) under the resource types their
audit rows use; audit itself knows no app.
"""

from __future__ import annotations

from django.db.models import Model, Q

from certctl.kernel.teams import scoped_to

_RESOURCES: dict[str, type[Model]] = {}


def register_team_resource(model: type[Model], *resource_types: str) -> None:
    """Audit rows of `resource_types` (and of the admin's `app.model` label) follow `model`'s team."""
    for resource_type in (*resource_types, model._meta.label_lower):
        _RESOURCES[resource_type] = model


def team_condition(teams) -> Q:
    condition = Q(pk__in=[])
    for resource_type, model in _RESOURCES.items():
        ids = scoped_to(model._default_manager.all(), teams).values("pk")
        condition |= Q(resource_type=resource_type, resource_id__in=ids)
    return condition
