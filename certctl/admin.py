"""Admin for API keys and the read-only operational tables (heartbeats, metric counters)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from certctl.api.models import ApiKey
from certctl.kernel.admin import ReadOnlyAdmin
from certctl.kernel.crypto import decrypt_bytes, encrypt_bytes
from certctl.kernel.models import MetricCounter
from certctl.models import ProcessHeartbeat
from certctl.services.api_keys import create_api_key, revoke_api_key

NEW_KEY_SESSION = "certctl_new_api_key"


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
        # Post/redirect/get: the key waits, encrypted, in this operator's session for the one page that shows it,
        # so reloading that page cannot create a second key.
        request.session[NEW_KEY_SESSION] = {"id": api_key.pk, "key": encrypt_bytes(raw.encode())}

    def response_add(self, request, obj, post_url_continue=None):
        if request.session.get(NEW_KEY_SESSION, {}).get("id") != obj.pk:
            return super().response_add(request, obj, post_url_continue)
        return HttpResponseRedirect(reverse("admin:certctl_apikey_created", args=[obj.pk]))

    def get_urls(self):
        created = path(
            "<path:object_id>/created/",
            self.admin_site.admin_view(self.created_view),
            name="certctl_apikey_created",
        )
        return [created, *super().get_urls()]

    def created_view(self, request, object_id: str):
        """Shows a new key once: the session holds it until this page is rendered, never again."""
        api_key = self.get_object(request, object_id)
        pending = request.session.get(NEW_KEY_SESSION) or {}
        if api_key is None or pending.get("id") != api_key.pk:
            self.message_user(
                request,
                "That key was already shown and is not stored anywhere: if it was not copied, revoke it and add "
                "another.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:certctl_apikey_changelist"))
        del request.session[NEW_KEY_SESSION]
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {api_key.name} created",
            "opts": self.opts,
            "api_key": api_key,
            "raw_key": decrypt_bytes(pending["key"]).decode(),
        }
        response = TemplateResponse(request, "admin/certctl/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

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
