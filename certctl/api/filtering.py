"""The base of the API's filter sets: django-filter's, with cheaper per-request copies of the filters.

django-filter deep-copies every declared filter for each request (`copy.deepcopy(self.base_filters)`), which cost
more than PostgreSQL's share of a certificate list page. Each request still needs filters of its own (django-filter
sets `parent` and `model` on them, builds a form field per filter, writes a request-dependent queryset into `extra`,
and a `method=` filter calls through an object bound to its filter), and a shallow copy with its own `extra` and
its own method binding gives exactly that.
"""

from __future__ import annotations

import copy

import django_filters


class _CopiedPerRequest(dict):
    def __deepcopy__(self, memo) -> dict:
        copies = {}
        for name, declared in self.items():
            own = copy.copy(declared)
            own.extra = dict(declared.extra)
            if own.method is not None:
                # The setter binds a FilterMethod to the copy (the declared filter's has no parent).
                own.method = own.method
            copies[name] = own
        return copies


class FilterSet(django_filters.FilterSet):
    @classmethod
    def get_filters(cls):
        return _CopiedPerRequest(super().get_filters())
