"""Query filters of the certificate list: exact matches, RFC 3339 time bounds and `sort`."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from certctl.api.filtering import FilterSet
from certctl.api.teams import TeamScopedFilterBackend
from certificates.enums import CertificateStatus
from certificates.inventory.models import ManagedCertificate

SORT_FIELDS = ("expires_at", "created_at", "updated_at", "common_name", "name", "status", "environment")


class CertificateFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=CertificateStatus.choices)
    environment = django_filters.CharFilter()
    owner_id = django_filters.CharFilter()
    team_id = django_filters.CharFilter()
    issuer_id = django_filters.CharFilter()
    profile_id = django_filters.CharFilter(field_name="profile_id")
    agent_id = django_filters.CharFilter(
        method="filter_agent", label="certificates deployed to this agent's targets"
    )
    expires_before = django_filters.IsoDateTimeFilter(field_name="expires_at", lookup_expr="lt")
    expires_after = django_filters.IsoDateTimeFilter(field_name="expires_at", lookup_expr="gt")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")
    sort = django_filters.OrderingFilter(
        fields=[(name, name) for name in SORT_FIELDS],
        label="field or -field; the id breaks ties",
    )

    class Meta:
        model = ManagedCertificate
        fields: list[str] = []

    def filter_agent(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        mapping = ManagedCertificate.targets.through.objects.filter(
            managedcertificate_id=OuterRef("pk"), deploymenttarget__agent_id=value
        )
        return queryset.filter(Exists(mapping))

    @property
    def qs(self):
        queryset = super().qs
        ordering = self.form.cleaned_data.get("sort") if self.form.is_valid() else None
        if ordering:
            tie_breaker = "-id" if ordering[0].startswith("-") else "id"
            queryset = queryset.order_by(*ordering, tie_breaker)
        return queryset


class CertificateFilterBackend(TeamScopedFilterBackend):
    """The default backend, keeping the list's filterset on the view: its `exact_total` reads the cleaned filters
    instead of building and validating a second filterset."""

    def get_filterset(self, request, queryset, view):
        view.filterset = super().get_filterset(request, queryset, view)
        return view.filterset
