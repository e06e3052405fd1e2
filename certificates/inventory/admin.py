"""The operators' UI for the inventory. Every list joins its foreign keys up front (no N+1)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.enums import CertificateStatus
from certificates.inventory.forms import DeploymentTargetAdminForm, RenewalPolicyAdminForm
from certificates.inventory.models import (
    CertificateProfile,
    CertificateVersion,
    DeploymentTarget,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)
from certificates.inventory.services.certificates import (
    archive_certificate,
    create_certificate,
    update_certificate,
)

STATUS_CSS = {
    CertificateStatus.PENDING: "pending",
    CertificateStatus.ACTIVE: "ok",
    CertificateStatus.EXPIRING: "warn",
    CertificateStatus.EXPIRED: "bad",
    CertificateStatus.RENEWAL_IN_PROGRESS: "busy",
    CertificateStatus.FAILED: "bad",
    CertificateStatus.REVOKED: "muted",
    CertificateStatus.ARCHIVED: "muted",
}


def _json(value) -> str:
    return format_html("<pre class='certctl-json'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name", "description", "id"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(Owner)
class OwnerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "team", "created_at"]
    list_filter = ["team"]
    list_select_related = ["team"]
    search_fields = ["name", "email", "id"]
    autocomplete_fields = ["team"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(CertificateProfile)
class CertificateProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "max_ttl_seconds", "allow_short_lived", "requires_approval", "enabled"]
    list_filter = ["enabled", "requires_approval", "allow_short_lived", "must_staple"]
    search_fields = ["name", "description", "id"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(RenewalPolicy)
class RenewalPolicyAdmin(admin.ModelAdmin):
    form = RenewalPolicyAdminForm
    list_display = ["name", "renewal_window_days", "auto_renew", "thresholds", "matrix", "max_retries"]
    list_filter = ["auto_renew"]
    search_fields = ["name", "id"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "stored_matrix", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "renewal_window_days", "auto_renew"]}),
        ("Retries", {"fields": ["max_retries", "retry_interval_seconds"]}),
        (
            "Expiry alerts",
            {
                "fields": [
                    "thresholds",
                    "severities",
                    "custom_channels",
                    "channels_informational",
                    "channels_warning",
                    "channels_critical",
                ],
                "description": "Each threshold has a severity tier; each tier is sent to its channels.",
            },
        ),
        ("Stored values", {"fields": ["stored_matrix", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Thresholds (days)")
    def thresholds(self, obj: RenewalPolicy) -> str:
        return ", ".join(map(str, obj.alert_thresholds_days or []))

    @admin.display(description="Channels")
    def matrix(self, obj: RenewalPolicy) -> str:
        if not obj.alert_channels:
            return "Email (default)"
        return "; ".join(f"{tier}: {', '.join(ch) or '-'}" for tier, ch in obj.alert_channels.items())

    @admin.display(description="Stored JSON")
    def stored_matrix(self, obj: RenewalPolicy) -> str:
        return _json(
            {
                "alert_thresholds_days": obj.alert_thresholds_days,
                "alert_severity_map": obj.alert_severity_map,
                "alert_channels": obj.alert_channels,
            }
        )


class CertificateVersionInline(admin.TabularInline):
    model = CertificateVersion
    fields = ["serial_number", "not_before", "not_after", "key_algorithm", "key_size", "fingerprint_sha256"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]


@admin.register(ManagedCertificate)
class ManagedCertificateAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "common_name",
        "status_badge",
        "days_to_expiry",
        "expires_at",
        "owner",
        "team",
        "issuer",
        "environment",
    ]
    list_filter = ["status", "environment", "team", "issuer", "renewal_policy", "source"]
    list_select_related = ["owner", "team", "issuer"]
    search_fields = ["name", "common_name", "id", "owner__name", "owner__email"]
    date_hierarchy = "expires_at"
    autocomplete_fields = ["owner", "team", "issuer", "renewal_policy", "profile", "targets"]
    readonly_fields = ["id", "created_at", "updated_at", "revoked_at", "revocation_reason"]
    inlines = [CertificateVersionInline]
    list_per_page = 50
    actions = ["archive_selected"]  # certificates.revocation.admin adds "Revoke selected certificates"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status in (CertificateStatus.REVOKED, CertificateStatus.ARCHIVED):
            return [*self.readonly_fields, "status"]  # final states
        return self.readonly_fields

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "status":
            # Revoked is reached only through revocation, which tells the CA and updates CRL/OCSP.
            kwargs["choices"] = [c for c in CertificateStatus.choices if c[0] != CertificateStatus.REVOKED]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # like the API: certificates are archived, their history stays

    def save_model(self, request, obj: ManagedCertificate, form, change) -> None:
        # The same audited services as the API; the admin adds nothing of its own.
        actor = {"actor": request.user.get_username(), "actor_type": "User"}
        targets = form.cleaned_data.get("targets")
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name != "targets"}
            saved = update_certificate(obj, changes, targets=targets, **actor)
        else:
            fields = {name: value for name, value in form.cleaned_data.items() if name != "targets"}
            saved = create_certificate(fields, targets=targets, **actor)
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in obj._meta.concrete_fields})
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_related(self, request, form, formsets, change) -> None:
        for formset in formsets:  # targets were set by the service
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Archive selected certificates", permissions=["change"])
    def archive_selected(self, request, queryset) -> None:
        actor = request.user.get_username()
        archived = sum(archive_certificate(cert, actor=actor, actor_type="User") for cert in queryset)
        self.message_user(request, f"Archived {archived} certificate(s).", messages.SUCCESS)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: ManagedCertificate) -> str:
        css = STATUS_CSS.get(obj.status, "muted")
        return format_html("<span class='certctl-status certctl-status-{}'>{}</span>", css, obj.status)

    @admin.display(description="Days left", ordering="expires_at")
    def days_to_expiry(self, obj: ManagedCertificate) -> str:
        if obj.expires_at is None:
            return "-"
        seconds = (obj.expires_at - timezone.now()).total_seconds()
        days = int(seconds / 86400)  # whole days, truncated toward zero like the expiry check
        if seconds < 0:
            css, label = "bad", f"expired {-days}d ago" if days else "expired today"
        else:
            css, label = ("warn" if days <= 30 else "ok"), str(days)
        return format_html("<span class='certctl-days certctl-days-{}'>{}</span>", css, label)


@admin.register(CertificateVersion)
class CertificateVersionAdmin(ReadOnlyAdmin):
    """Issued certificates are facts: read-only here (issue and revoke through the API)."""

    list_display = ["serial_number", "certificate", "issuer", "not_before", "not_after", "key_algorithm"]
    list_filter = ["key_algorithm", "issuer"]
    list_select_related = ["certificate", "issuer"]
    search_fields = ["serial_number", "fingerprint_sha256", "certificate__name", "certificate__common_name"]
    date_hierarchy = "not_after"


@admin.register(DeploymentTarget)
class DeploymentTargetAdmin(admin.ModelAdmin):
    form = DeploymentTargetAdminForm
    list_display = ["name", "type", "agent", "enabled", "retired_at"]
    list_filter = ["type", "enabled"]
    list_select_related = ["agent"]
    search_fields = ["name", "id", "agent__name"]
    autocomplete_fields = ["agent"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]
