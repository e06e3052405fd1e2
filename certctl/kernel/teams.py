"""Rows of some teams only: a model opts in with `team_lookups` (paths to a team, any of which may match) or a
`team_condition(teams) -> Q` static method. Used by the API (team-bound keys) and the admin (staff bound to teams).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.db.models import Model, Q, QuerySet

# Set on the request by certctl.middleware for staff users bound to teams (None: all teams).
REQUEST_ATTRIBUTE = "certctl_teams"


def team_scoped(model: type[Model]) -> bool:
    return bool(getattr(model, "team_lookups", None)) or hasattr(model, "team_condition")


def team_q(model: type[Model], teams: Iterable[str]) -> Q | None:
    condition_of = getattr(model, "team_condition", None)
    if condition_of is not None:
        return condition_of(list(teams))
    paths = getattr(model, "team_lookups", None)
    if not paths:
        return None
    teams = list(teams)
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path}__in": teams})
    return condition


def scoped_to(queryset: QuerySet, teams: Iterable[str] | None) -> QuerySet:
    if teams is None:
        return queryset
    condition = team_q(queryset.model, teams)
    return queryset if condition is None else queryset.filter(condition)


class TeamScopedAdmin(admin.ModelAdmin):
    """A staff user bound to teams sees, picks and changes only those teams' rows (lists, pages, choices);
    another team's row answers 404 as if it did not exist. The console adds this to every team-scoped model."""

    def get_queryset(self, request):
        return scoped_to(super().get_queryset(request), getattr(request, REQUEST_ATTRIBUTE, None))

    def _scoped_choices(self, request, formfield):
        teams = getattr(request, REQUEST_ATTRIBUTE, None)
        if formfield is not None and teams is not None and hasattr(formfield, "queryset"):
            formfield.queryset = scoped_to(formfield.queryset, teams)
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return self._scoped_choices(request, super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return self._scoped_choices(request, super().formfield_for_manytomany(db_field, request, **kwargs))
