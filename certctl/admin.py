"""Admin for API keys and the read-only operational tables (heartbeats, metric counters)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from certctl.api.models import ApiKey, TeamMembership
from certctl.api.scopes import SCOPES, default_scopes
from certctl.kernel.admin import ReadOnlyAdmin
from certctl.kernel.crypto import decrypt_bytes, encrypt_bytes
from certctl.kernel.models import MetricCounter
from certctl.models import ProcessHeartbeat
from certctl.services.api_keys import create_api_key, revoke_api_key, update_api_key

NEW_KEY_SESSION = "certctl_new_api_key"


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=default_scopes,
        help_text="read: everything visible; write: inventory and lifecycle; approve: approval requests; admin: "
        "everything, including issuers, profiles, policies, teams, destinations, agents' retirement, bulk revoke "
        "and keys.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "teams", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Adding a key generates it and shows it once on the response page; only its SHA-256 is stored."""

    form = ApiKeyForm
    list_display = ["name", "key_prefix", "scope_list", "team_list", "active", "expires_at", "last_used_at"]
    list_filter = [
        ("revoked_at", admin.EmptyFieldListFilter),
        ("expires_at", admin.EmptyFieldListFilter),
        "teams",
    ]
    search_fields = ["name", "key_prefix", "id"]
    date_hierarchy = "created_at"
    actions = ["revoke_selected"]
    autocomplete_fields = ["teams"]
    readonly_fields = ["id", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]

    @admin.display(boolean=True, description="Active")
    def active(self, obj: ApiKey) -> bool:
        return obj.is_active

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or [])

    @admin.display(description="Teams")
    def team_list(self, obj: ApiKey) -> str:
        return ", ".join(team.name for team in obj.teams.all()) or "all"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("teams")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        editable = ["scopes", "teams", "expires_at"]
        return ["name", *editable] if obj is None else [*self.readonly_fields, *editable]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked keys stay for the audit trail

    def save_related(self, request, form, formsets, change) -> None:
        pass  # the services below set the teams, in the same transaction as the key and its audit row

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            update_api_key(
                obj,
                scopes=data["scopes"],
                teams=data["teams"],
                expires_at=data["expires_at"],
                actor=request.user.get_username(),
            )
            return
        api_key, raw = create_api_key(
            data["name"],
            scopes=data["scopes"],
            teams=data["teams"],
            expires_at=data["expires_at"],
            actor=request.user.get_username(),
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


class TeamMembershipInline(admin.TabularInline):
    """Binding a staff user to teams limits what they see in the admin and the API to those teams' rows."""

    model = TeamMembership
    extra = 0
    autocomplete_fields = ["team"]
    verbose_name_plural = "Teams (when set, this user sees only these teams' certificates and their rows)"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class CertctlUserAdmin(UserAdmin):
    """Django's user page, with the user's teams; groups Operators, Approvers and Auditors give the rights."""

    inlines = [*UserAdmin.inlines, TeamMembershipInline]


@admin.register(TeamMembership)
class TeamMembershipAdmin(ReadOnlyAdmin):
    """Which staff users are bound to which teams: a list; they are set on each user's page (Teams)."""

    list_display = ["user", "team"]
    list_filter = ["team"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "team__name"]


@admin.register(ProcessHeartbeat)
class ProcessHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["kind", "last_seen_at", "hostname"]


@admin.register(MetricCounter)
class MetricCounterAdmin(ReadOnlyAdmin):
    list_display = ["name", "labels", "value"]
    list_filter = ["name"]
    search_fields = ["name", "labels"]
