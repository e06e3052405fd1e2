"""The certificate page's extension points: buttons, timeline sources and panels that other packages add.

The inventory knows nothing of issuance, revocation or expiry; each of those packages' `admin` module registers
what it contributes to the page (Renew, Revoke, its timeline rows, who would be alerted), so the page grows by
one registration per feature and the imports keep pointing downward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from certificates.inventory.models import ManagedCertificate


@dataclass(frozen=True)
class PageAction:
    """A button on the certificate page, served at `<certificate id>/<slug>/` by `view`."""

    slug: str
    label: str
    view: Callable[..., HttpResponse]  # view(model_admin, request, certificate) -> response
    permission: str = "change"  # the model permission the operator needs: view, change
    available: Callable[[ManagedCertificate], bool] = lambda certificate: True


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # version, job, approval, revocation, notification, audit
    title: str
    detail: str = ""
    url: str = ""


@dataclass
class Panel:
    """A small table on the certificate page (e.g. who would be alerted at each threshold)."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


TimelineSource = Callable[[ManagedCertificate], Iterable[TimelineEntry]]
PanelSource = Callable[[ManagedCertificate], Panel | None]

PAGE_ACTIONS: list[PageAction] = []
TIMELINE_SOURCES: list[TimelineSource] = []
PANEL_SOURCES: list[PanelSource] = []
TIMELINE_LIMIT = 100  # newest entries shown; every source is asked for at most this many


def add_action(action: PageAction) -> None:
    if all(existing.slug != action.slug for existing in PAGE_ACTIONS):
        PAGE_ACTIONS.append(action)


def add_timeline_source(source: TimelineSource) -> None:
    if source not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(source)


def add_panel(source: PanelSource) -> None:
    if source not in PANEL_SOURCES:
        PANEL_SOURCES.append(source)


def timeline(certificate: ManagedCertificate) -> list[TimelineEntry]:
    """Every source's entries for `certificate`, newest first, at most TIMELINE_LIMIT."""
    entries = [entry for source in TIMELINE_SOURCES for entry in source(certificate)]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


def panels(certificate: ManagedCertificate) -> list[Panel]:
    return [panel for source in PANEL_SOURCES if (panel := source(certificate)) is not None]


def actions_for(request: HttpRequest, certificate: ManagedCertificate) -> list[PageAction]:
    meta = ManagedCertificate._meta
    return [
        action
        for action in PAGE_ACTIONS
        if request.user.has_perm(f"{meta.app_label}.{action.permission}_{meta.model_name}")
        and action.available(certificate)
    ]


def render_action(
    model_admin, request: HttpRequest, certificate: ManagedCertificate, title: str, form, intro: str = ""
) -> HttpResponse:
    """The page of one button: the certificate's breadcrumbs, `intro`, the form and its submit button."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{title}: {certificate.name}",
        "subtitle": certificate.name,
        "opts": model_admin.opts,
        "original": certificate,
        "form": form,
        "intro": intro,
        "submit_label": title,
        "change_url": reverse("admin:certificates_managedcertificate_change", args=[certificate.pk]),
    }
    return TemplateResponse(request, "admin/certificates/managedcertificate/action.html", context)


def posted(request: HttpRequest):
    """The form data of a POST, None for a GET (an empty POST is still a submission)."""
    return request.POST if request.method == "POST" else None


def form_action(
    model_admin,
    request: HttpRequest,
    certificate: ManagedCertificate,
    form,
    *,
    title: str,
    intro: str,
    perform: Callable[[dict, dict[str, str]], str | HttpResponse],
    refused: type[Exception] | tuple[type[Exception], ...],
    error_field: str | None = None,
) -> HttpResponse:
    """What every button does: show `form`; on a valid POST call `perform(cleaned_data, actor)` (the API's
    service, as the logged-in operator). It returns a message for the certificate's page, or a response of its
    own (a download). A `refused` error is shown on the form, on `error_field` or above it."""
    if request.method == "POST" and form.is_valid():
        try:
            outcome = perform(form.cleaned_data, {"actor": request.user.get_username(), "actor_type": "User"})
        except refused as exc:
            form.add_error(error_field, str(exc))
        else:
            if isinstance(outcome, HttpResponse):
                return outcome
            messages.success(request, outcome)
            return back_to_page(certificate)
    return render_action(model_admin, request, certificate, title, form, intro)


def back_to_page(certificate: ManagedCertificate) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        reverse("admin:certificates_managedcertificate_change", args=[certificate.pk])
    )
