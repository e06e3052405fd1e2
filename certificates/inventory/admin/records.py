"""The inventory's reference data in the admin: teams, owners, profiles, renewal policies, targets and issued
versions. Every list joins its foreign keys up front (no N+1)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.inventory.forms import DeploymentTargetAdminForm, RenewalPolicyAdminForm, TeamAdminForm
from certificates.inventory.models import (
    CertificateProfile,
    CertificateVersion,
    DeploymentTarget,
    Owner,
    RenewalPolicy,
    Team,
)
from certificates.inventory.services.profiles import save_profile


def _json(value) -> str:
    return format_html("<pre class='certctl-json'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamAdminForm
    list_display = ["name", "description", "quiet_hours", "digest_enabled", "created_at"]
    list_filter = ["digest_enabled"]
    search_fields = ["name", "description", "id"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "description"]}),
        (
            "Quiet hours",
            {
                "fields": ["quiet_hours_start", "quiet_hours_end", "timezone"],
                "description": "Non-critical alerts wait until the window ends (local time, may wrap midnight, "
                "e.g. 22:00 to 07:00); critical alerts always go at once. Both times, or neither.",
            },
        ),
        ("Daily digest", {"fields": ["digest_enabled", "digest_hour", "digest_horizon_days"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="Quiet hours")
    def quiet_hours(self, obj: Team) -> str:
        if obj.quiet_hours_start is None or obj.quiet_hours_end is None:
            return "-"
        return f"{obj.quiet_hours_start:%H:%M}-{obj.quiet_hours_end:%H:%M} {obj.timezone}"


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

    def save_model(self, request, obj, form, change) -> None:
        save_profile(obj, actor=request.user.get_username(), actor_type="User")


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
                    "alert_owner_tiers",
                ],
                "description": "Each threshold has a severity tier; each tier is sent to its channels or "
                "destinations, then the owner (ticked tiers), the team's destinations, else the defaults.",
            },
        ),
        ("Escalation", {"fields": ["escalation_after_minutes", "escalation_steps"]}),
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
                "alert_owner_tiers": obj.alert_owner_tiers,
                "escalation_after_minutes": obj.escalation_after_minutes,
                "escalation_steps": obj.escalation_steps,
            }
        )


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
    list_display = ["name", "type", "agent", "team", "enabled", "retired_at"]
    list_filter = ["type", "enabled", "team"]
    list_select_related = ["agent", "team"]
    search_fields = ["name", "id", "agent__name"]
    autocomplete_fields = ["agent", "team"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]
