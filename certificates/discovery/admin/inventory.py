"""Discovery admin: the discovered inventory. Certificates (filters, search, a page with where they were seen and
the endpoints serving them, actions Claim…, Dismiss…, Restore), endpoints (changed ones, Acknowledge) and
sightings, read-only. Actions call the same services as the API."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef, QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from certificates.discovery.admin.imports import ImportPageMixin
from certificates.discovery.admin.tables import endpoint_link as _endpoint_link
from certificates.discovery.admin.tables import violations_table
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoverySighting,
    DiscoveryStatus,
    SightingSource,
)
from certificates.discovery.services import claim as claiming
from certificates.discovery.services import inventory
from certificates.inventory.models import Issuer, ManagedCertificate, Owner, RenewalPolicy, Team

ACTION_TEMPLATE = "admin/certificates/discovery/inventory_action.html"


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("expired", "Expired"),
            ("30", "Within 30 days"),
            ("90", "Within 90 days"),
            ("later", "Later"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "expired":
            return queryset.filter(not_after__lte=now)
        if self.value() in ("30", "90"):
            return queryset.filter(not_after__gt=now, not_after__lte=now + timedelta(days=int(self.value())))
        if self.value() == "later":
            return queryset.filter(not_after__gt=now + timedelta(days=90))
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = "seen by"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return SightingSource.choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(
            Exists(DiscoverySighting.objects.filter(certificate_id=OuterRef("pk"), source=self.value()))
        )


class ChangedFilter(admin.SimpleListFilter):
    title = "changed at an endpoint"
    parameter_name = "changed"

    def lookups(self, request, model_admin):
        return [("yes", "Changed, not acknowledged"), ("no", "No")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if queryset.model is DiscoveryEndpoint:
            flagged = inventory.changed_endpoints()
            return queryset.filter(flagged) if self.value() == "yes" else queryset.exclude(flagged)
        flagged = Exists(
            DiscoveryEndpoint.objects.filter(
                inventory.changed_endpoints(), current_certificate_id=OuterRef("pk")
            )
        )
        return queryset.filter(flagged) if self.value() == "yes" else queryset.exclude(flagged)


class ClaimForm(forms.Form):
    managed_certificate = forms.ModelChoiceField(
        ManagedCertificate.objects.order_by("name"),
        required=False,
        help_text="Link to this managed certificate; leave empty to create a managed certificate instead.",
    )
    owner = forms.ModelChoiceField(Owner.objects.order_by("name"), required=False)
    team = forms.ModelChoiceField(Team.objects.order_by("name"), required=False)
    renewal_policy = forms.ModelChoiceField(RenewalPolicy.objects.order_by("name"), required=False)
    issuer = forms.ModelChoiceField(
        Issuer.objects.order_by("name"), required=False, label="Issuer to renew with"
    )
    environment = forms.CharField(max_length=64, required=False)

    def clean(self):
        data = super().clean()
        if data.get("managed_certificate"):
            return data
        for name in ("owner", "team", "renewal_policy", "issuer"):
            if not data.get(name):
                self.add_error(name, "Required to create a managed certificate (or pick one to link to).")
        return data


class DismissForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


def actor_of(request) -> dict[str, str]:
    return {"actor": request.user.get_username(), "actor_type": "User"}


def _form_page(modeladmin, request, queryset, form, title: str, action_name: str, button: str):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "form": form,
        "button": button,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": action_name,
    }
    return TemplateResponse(request, ACTION_TEMPLATE, context)


@admin.action(description="Claim selected certificates…", permissions=["change"])
def claim_selected(modeladmin, request, queryset):
    """Link each to an existing managed certificate, or create a managed certificate from each."""
    form = ClaimForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return _form_page(
            modeladmin, request, queryset, form, "Claim certificates", "claim_selected", "Claim"
        )
    data = form.cleaned_data
    done, refused = [], []
    for certificate in queryset:
        new = None
        if not data["managed_certificate"]:
            new = claiming.NewManaged(
                owner=data["owner"],
                team=data["team"],
                renewal_policy=data["renewal_policy"],
                issuer=data["issuer"],
                environment=data["environment"],
            )
        try:
            claimed = claiming.claim(
                certificate, link_to=data["managed_certificate"], new=new, **actor_of(request)
            )
        except claiming.ClaimConflict as exc:
            refused.append(str(exc))
            continue
        done.append(claimed.managed.name)
    if done:
        modeladmin.message_user(request, f"Claimed {len(done)}: {', '.join(done)}.", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, f"Not claimed: {reason}", messages.WARNING)
    return None


@admin.action(description="Dismiss selected certificates…", permissions=["change"])
def dismiss_selected(modeladmin, request, queryset):
    form = DismissForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return _form_page(
            modeladmin, request, queryset, form, "Dismiss certificates", "dismiss_selected", "Dismiss"
        )
    done, refused = 0, []
    for certificate in queryset:
        try:
            inventory.dismiss(certificate, form.cleaned_data["reason"], **actor_of(request))
            done += 1
        except inventory.DiscoveryStateError as exc:
            refused.append(str(exc))
    modeladmin.message_user(request, f"Dismissed {done}.", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, f"Not dismissed: {reason}", messages.WARNING)
    return None


@admin.action(description="Restore selected (undo dismissal)", permissions=["change"])
def restore_selected(modeladmin, request, queryset):
    restored = 0
    for certificate in queryset.filter(status=DiscoveryStatus.DISMISSED):
        inventory.restore(certificate, **actor_of(request))
        restored += 1
    modeladmin.message_user(request, f"Restored {restored}.", messages.SUCCESS)


@admin.register(DiscoveredCertificate)
class DiscoveredCertificateAdmin(ImportPageMixin, admin.ModelAdmin):
    list_display = [
        "common_name",
        "status",
        "not_after",
        "issuer_dn",
        "key",
        "is_weak",
        "is_self_signed",
        "owner",
        "team",
        "last_seen_at",
    ]
    list_filter = ["status", "is_weak", "is_self_signed", ExpiryFilter, SourceFilter, ChangedFilter, "team"]
    list_select_related = ["owner", "team"]
    autocomplete_fields = ["owner", "team"]
    search_fields = ["common_name", "sans", "issuer_dn", "fingerprint_sha256", "=id"]
    date_hierarchy = "not_after"
    actions = [claim_selected, dismiss_selected, restore_selected]
    fields_found = [
        "id",
        "fingerprint_sha256",
        "common_name",
        "sans",
        "subject",
        "issuer_dn",
        "serial_number",
        "not_before",
        "not_after",
        "key_algorithm",
        "key_size",
        "curve",
        "signature_algorithm",
        "is_self_signed",
        "is_ca",
        "is_weak",
        "has_private_key",
    ]
    fields_state = [
        "status",
        "managed_link",
        "claimed_at",
        "claimed_by",
        "dismissed_at",
        "dismissed_by",
        "dismissed_reason",
    ]
    fieldsets = [
        ("Certificate", {"fields": fields_found}),
        ("Adoption", {"fields": [*fields_state, "owner", "team"]}),
        (
            "Where it was seen",
            {"fields": ["sightings_table", "endpoints_table", "first_seen_at", "last_seen_at"]},
        ),
        ("Compliance", {"fields": ["violations_table"]}),
        ("PEM", {"fields": ["pem", "chain_pem"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        *fields_found,
        *fields_state,
        "sightings_table",
        "endpoints_table",
        "violations_table",
        "first_seen_at",
        "last_seen_at",
        "pem",
        "chain_pem",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).defer("encrypted_private_key")

    def save_model(self, request, obj, form, change) -> None:
        """Only owner and team are editable: through the same service as the API's PATCH."""
        changes = {
            name: form.cleaned_data.get(name) for name in ("owner", "team") if name in form.changed_data
        }
        if changes:
            inventory.assign(obj, changes, **actor_of(request))

    @admin.display(description="Key")
    def key(self, obj: DiscoveredCertificate) -> str:
        return f"{obj.key_algorithm} {obj.key_size or obj.curve}".strip()

    @admin.display(description="Managed certificate")
    def managed_link(self, obj: DiscoveredCertificate) -> str:
        if not obj.managed_certificate_id:
            return "-"
        url = reverse("admin:certificates_managedcertificate_change", args=[obj.managed_certificate_id])
        return format_html('<a href="{}">{}</a>', url, obj.managed_certificate)

    @admin.display(description="Sightings")
    def sightings_table(self, obj: DiscoveredCertificate) -> str:
        rows = obj.sightings.select_related("endpoint").order_by("-last_seen_at")[:200]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    s.source,
                    _endpoint_link(s.endpoint),
                    s.endpoint.protocol if s.endpoint else s.detail,
                    "-" if s.key_present is None else ("yes" if s.key_present else "no"),
                    f"{s.first_seen_at:%Y-%m-%d %H:%M}",
                    f"{s.last_seen_at:%Y-%m-%d %H:%M}",
                )
                for s in rows
            ),
        )
        return format_html(
            "<table><tr><th>Source</th><th>Where</th><th>Protocol / detail</th><th>Key file</th>"
            "<th>First seen</th><th>Last seen</th></tr>{}</table>",
            body,
        )

    @admin.display(description="Endpoints serving it now")
    def endpoints_table(self, obj: DiscoveredCertificate) -> str:
        rows = (
            DiscoveryEndpoint.objects.filter(current_certificate=obj).select_related("target").order_by("key")
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _endpoint_link(e),
                    e.chain_problem or "-",
                    e.target or "-",
                    "changed (not acknowledged)" if e.changed_at and not e.change_acknowledged_at else "-",
                )
                for e in rows
            ),
        )
        return format_html(
            "<table><tr><th>Endpoint</th><th>Chain problem</th><th>Target</th><th>Change</th></tr>{}</table>",
            body,
        )

    @admin.display(description="Open violations")
    def violations_table(self, obj: DiscoveredCertificate) -> str:
        return violations_table(obj)
