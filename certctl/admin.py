"""Admin for API keys and the read-only operational tables (heartbeats, metric counters)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from certctl.api.models import ApiKey
from certctl.kernel.admin import ReadOnlyAdmin
from certctl.kernel.models import MetricCounter
from certctl.models import ProcessHeartbeat
from certctl.services.api_keys import create_api_key, revoke_api_key

admin.site.site_header = "certctl"
admin.site.site_title = "certctl"


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "is_admin"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Adding a key generates it and shows it once on the response page; only its SHA-256 is stored."""

    list_display = ["name", "key_prefix", "is_admin", "active", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["is_admin", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_prefix", "id"]
    date_hierarchy = "created_at"
    actions = ["revoke_selected"]
    readonly_fields = ["id", "name", "key_prefix", "is_admin", "created_at", "last_used_at", "revoked_at"]

    @admin.display(boolean=True, description="Active")
    def active(self, obj: ApiKey) -> bool:
        return obj.is_active

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["name", "is_admin"] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # keys are immutable: create, then revoke

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked keys stay for the audit trail

    def save_model(self, request, obj, form, change) -> None:
        api_key, raw = create_api_key(
            form.cleaned_data["name"], form.cleaned_data["is_admin"], actor=request.user.get_username()
        )
        obj.__dict__.update({f.attname: getattr(api_key, f.attname) for f in ApiKey._meta.concrete_fields})
        obj._state.adding = False
        obj._state.db = api_key._state.db
        request._certctl_new_api_key = raw

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_certctl_new_api_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered directly (no redirect): the key never sits in a message cookie or the session store.
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {obj.name} created",
            "opts": self.opts,
            "api_key": obj,
            "raw_key": raw,
        }
        return TemplateResponse(request, "admin/certctl/apikey/created.html", context)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("certctl.change_apikey")

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_selected(self, request, queryset) -> None:
        revoked = sum(revoke_api_key(key, actor=request.user.get_username()) for key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


@admin.register(ProcessHeartbeat)
class ProcessHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["kind", "last_seen_at", "hostname"]


@admin.register(MetricCounter)
class MetricCounterAdmin(ReadOnlyAdmin):
    list_display = ["name", "labels", "value"]
    list_filter = ["name"]
    search_fields = ["name", "labels"]
