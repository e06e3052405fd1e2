"""The API's filter sets copy their filters per request cheaply, and the copies share nothing a request changes."""

from __future__ import annotations

import django_filters
import pytest
from django.test import RequestFactory

from certctl.api.filtering import FilterSet
from certificates.inventory.api.filters import CertificateFilter
from certificates.inventory.models import ManagedCertificate, Team
from tests.factories import TeamFactory


def test_each_filter_set_gets_filters_of_its_own():
    first, second = CertificateFilter({}), CertificateFilter({})
    assert first.filters.keys() == second.filters.keys() == CertificateFilter.base_filters.keys()
    for name, declared in CertificateFilter.base_filters.items():
        mine, theirs = first.filters[name], second.filters[name]
        assert mine is not theirs and mine is not declared
        assert (
            mine.extra == declared.extra
            and mine.extra is not theirs.extra
            and mine.extra is not declared.extra
        )
        assert mine.parent is first and theirs.parent is second
        assert mine.model is ManagedCertificate
        if declared.method is not None:  # a `method=` filter resolves the method on its own filter set
            assert mine.filter.f is mine and theirs.filter.f is theirs


@pytest.mark.django_db
def test_a_request_dependent_queryset_stays_with_its_request():
    mine, theirs = TeamFactory(name="Mine"), TeamFactory(name="Theirs")

    class ByTeam(FilterSet):
        team = django_filters.ModelChoiceFilter(
            queryset=lambda request: Team.objects.filter(name=request.team_name)
        )

        class Meta:
            model = ManagedCertificate
            fields = ["team"]

    requests = []
    for name in ("Mine", "Theirs"):
        request = RequestFactory().get("/")
        request.team_name = name
        requests.append(ByTeam({}, request=request))
    # Both built before either field is used: a shared `extra` would give both the last request's queryset.
    fields = [filterset.filters["team"].field for filterset in requests]
    assert [list(field.queryset) for field in fields] == [[mine], [theirs]]
    assert ByTeam({"team": theirs.pk}, request=requests[0].request).is_valid() is False
