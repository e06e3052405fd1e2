"""Property tests of the operators' admin forms: for every add and change form of our apps, Hypothesis fills the
form's own fields (choices and related rows that exist, and values that do not; numbers, JSON, dates and text inside
and outside what the field accepts) and posts it as a superuser. Whatever is posted, the answer is the form again
with its errors (200) or a redirect after saving (302), never an exception, and a form sent back with errors
leaves every stored row as it was.

Derandomized like the API property tests (`CERTCTL_FUZZ=explore` draws ten times as many new examples)."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.contrib import admin
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from certctl.api.models import ApiKey
from tests.certctl.api.test_fuzz_schema import stored
from tests.certctl.test_admin_pages import estate, own_models  # noqa: F401 - estate: the fixture
from tests.certificates.test_api_fuzz_lifecycle import FUZZ, json_values

pytestmark = pytest.mark.django_db

texts = st.text(max_size=30) | st.sampled_from(
    ["", " ", "x" * 300, "-1", "1e309", "\u0000", "null", "{}", "[]"]
)


def field_values(name: str, field: forms.Field) -> st.SearchStrategy:
    """Posted values for one form field (a dict: split widgets post several keys)."""
    if isinstance(field, forms.ModelMultipleChoiceField):
        pks = [str(pk) for pk in field.queryset.values_list("pk", flat=True)[:10]]
        values = st.lists(st.sampled_from([*pks, "nope"]), max_size=3)
    elif isinstance(field, forms.ModelChoiceField):
        pks = [str(pk) for pk in field.queryset.values_list("pk", flat=True)[:10]]
        values = st.sampled_from([*pks, "", "nope"])
    elif isinstance(field, forms.ChoiceField):
        choices = [str(value) for value, _ in field.choices if not isinstance(_, (list, tuple))]
        values = st.sampled_from([*choices, "bogus"]) if choices else texts
    elif isinstance(field, forms.BooleanField):
        values = st.sampled_from(["on", ""])
    elif isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        values = st.integers(-(2**40), 2**40).map(str) | texts
    elif isinstance(field, forms.JSONField):
        values = (
            json_values.map(json.dumps) | st.lists(st.integers(-5, 400), max_size=6).map(json.dumps) | texts
        )
    elif isinstance(field, forms.SplitDateTimeField):
        date = st.dates().map(str) | texts
        time = st.times().map(lambda t: t.strftime("%H:%M:%S")) | texts
        return st.fixed_dictionaries({f"{name}_0": date, f"{name}_1": time})
    elif isinstance(field, forms.DateTimeField):
        values = st.datetimes().map(lambda d: d.isoformat(" ")) | texts
    elif isinstance(field, forms.EmailField):
        values = st.emails() | texts
    else:
        values = texts
    return values.map(lambda value: {name: value})


def as_posted(bound) -> dict:
    """What a browser posts for a bound field of an unbound form: its current value, through its widget."""
    value, widget = bound.value(), bound.field.widget
    if isinstance(widget, forms.MultiWidget):
        parts = widget.decompress(value) if not isinstance(value, list) else value
        return {f"{bound.html_name}_{i}": "" if part is None else str(part) for i, part in enumerate(parts)}
    if isinstance(widget, forms.CheckboxInput):
        return {bound.html_name: "on"} if value else {}
    if isinstance(value, list | tuple):
        return {bound.html_name: [str(getattr(item, "pk", item)) for item in value]}
    return {bound.html_name: "" if value is None else str(value)}


def unchanged_inlines(model_admin, request, instance) -> dict:
    """The management forms of the page's inlines, saying the post changes none of their rows."""
    posted = {}
    for formset, _ in model_admin.get_formsets_with_inlines(request, instance):
        prefix = formset.get_default_prefix()
        posted.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return posted


def form_posts(form_class, instance, page: str, fixed: dict) -> st.SearchStrategy:
    """A form as the page shows it (a change form with the row's values, an add form with an existing row's values
    under a new name), with any of its fields replaced by a drawn value: mostly valid posts that are saved, and
    ones that are refused for a field or two."""
    shown = form_class(instance=instance)
    parts = []
    for name, field in form_class.base_fields.items():
        if field.disabled:
            continue
        current = st.just(as_posted(shown[name]))
        if page == "add" and name == "name":
            current = st.uuids().map(lambda u, name=name: {name: f"fuzz-{u.hex[:12]}"})
        drawn = field_values(name, field)
        if not field.required:
            drawn = drawn | st.just({})
        parts.append(st.integers(0, 3).flatmap(lambda pick, c=current, d=drawn: d if pick == 0 else c))

    def merge(chunks):
        posted = {"_save": "Save", **fixed}
        for chunk in chunks:
            posted.update(chunk)
        return posted

    return st.tuples(*parts).map(merge)


@pytest.mark.parametrize("model", own_models(), ids=lambda model: model._meta.label)
@pytest.mark.parametrize("page", ["add", "change"])
def test_any_form_post_is_answered_and_a_rejected_form_changes_nothing(admin_client, estate, model, page):  # noqa: F811
    opts = model._meta
    model_admin = admin.site._registry[model]
    obj = model._default_manager.order_by("pk").first()
    if page == "add":
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    elif obj is None:
        pytest.skip(f"no {opts.label} row to change")
    else:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    request = admin_client.get(url).wsgi_request
    allowed = (
        model_admin.has_add_permission(request)
        if page == "add"
        else model_admin.has_change_permission(request, obj)
    )
    if not allowed:
        pytest.skip(f"{opts.label} has no {page} form: read-only in the admin")
    form_class = model_admin.get_form(request, obj if page == "change" else None)
    inlines = unchanged_inlines(model_admin, request, obj if page == "change" else None)
    outcomes: set[str] = set()

    @FUZZ
    @given(posted=form_posts(form_class, obj, page, inlines))
    def run(posted):
        before = snapshot()
        response = admin_client.post(url, posted)
        assert response.status_code in (200, 302), response.status_code
        # Sent back: the form again, with its errors (a created API key's page is a 200 without a form).
        refused = response.status_code == 200 and "adminform" in (response.context or {})
        outcomes.add("refused" if refused else "saved")
        if refused:
            assert snapshot() == before, "a form sent back with errors changed stored rows"

    run()
    if form_class.base_fields:  # the draws reached both ends: some posts saved, some refused
        assert outcomes == {"saved", "refused"}, outcomes


def snapshot() -> list:
    return [*stored(), sorted(ApiKey.objects.values_list(), key=repr)]
