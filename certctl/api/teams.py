"""Team binding: a team-bound API key (or a staff user with team memberships) sees and changes only its teams' rows.

A model opts in with `team_lookups`, a tuple of lookup paths to a team (`("team",)`, `("certificate__team",)`);
a row is visible when any path leads to one of the caller's teams. Lists are filtered and another team's row is a
404, as if it did not exist. Models without `team_lookups` (issuers, profiles, policies, agents) are shared.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend

from certctl.kernel.teams import scoped_to


def caller_teams(request) -> frozenset[str] | None:
    """The caller's teams, or None when it is not bound to teams."""
    return getattr(getattr(request, "user", None), "teams", None)


def scoped(queryset: QuerySet, request) -> QuerySet:
    return scoped_to(queryset, caller_teams(request))


class TeamScope(BaseFilterBackend):
    """For views without query filters: lists and `get_object` see only the caller's teams' rows."""

    def filter_queryset(self, request, queryset, view):
        return scoped(queryset, request)


class TeamScopedFilterBackend(DjangoFilterBackend):
    """The default filter backend: the caller's teams first, then the view's django-filter filters."""

    def filter_queryset(self, request, queryset, view):
        return super().filter_queryset(request, scoped(queryset, request), view)


def require_visible(request, queryset: QuerySet, ids: Iterable[str], field: str) -> None:
    """400 naming `field` when some of `ids` are not rows the caller may see (another team's look unknown)."""
    ids = set(ids)
    if caller_teams(request) is None or not ids:
        return
    seen = set(scoped(queryset.filter(pk__in=ids), request).values_list("pk", flat=True))
    missing = sorted(ids - seen)
    if missing:
        raise serializers.ValidationError({field: [f"unknown id(s): {', '.join(missing[:10])}"]})


def require_team_criterion(request, data: dict, certificates: QuerySet) -> None:
    """A bulk operation by a team-bound caller must be limited to its teams: by `team_id` or `certificate_ids`."""
    teams = caller_teams(request)
    if teams is None:
        return
    if data.get("team_id"):
        if data["team_id"] not in teams:
            raise serializers.ValidationError({"team_id": ["not one of this key's teams"]})
        return
    if data.get("certificate_ids"):
        require_visible(request, certificates, data["certificate_ids"], "certificate_ids")
        return
    raise serializers.ValidationError(
        {"team_id": ["a team-bound key must give team_id (one of its teams) or certificate_ids"]}
    )


class TeamScopedFieldsMixin:
    """For serializers: related-row choices are limited to the caller's teams, and a row with a `team` gets one of
    them (the only one by default)."""

    def get_fields(self):
        fields = super().get_fields()
        teams = caller_teams(self.context.get("request"))
        if teams is None:
            return fields
        for field in fields.values():
            target = getattr(field, "child_relation", field)
            queryset = getattr(target, "queryset", None)
            if queryset is not None:
                target.queryset = scoped_to(queryset, teams)
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        teams = caller_teams(self.context.get("request"))
        model = getattr(getattr(self, "Meta", None), "model", None)
        has_team = model is not None and any(f.name == "team" for f in model._meta.concrete_fields)
        if teams is None or not has_team or self.instance is not None or attrs.get("team") is not None:
            return attrs
        if len(teams) != 1:
            raise serializers.ValidationError({"team_id": ["a key bound to several teams must name one"]})
        team_field = model._meta.get_field("team")
        attrs["team"] = team_field.related_model.objects.get(pk=next(iter(teams)))
        return attrs
