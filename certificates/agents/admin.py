"""The operators' UI for agents and the targets they deploy to."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from certificates.inventory.models import Agent, DeploymentTarget
from certificates.inventory.querysets import agent_online


class TargetInline(admin.TabularInline):
    model = DeploymentTarget
    fields = ["name", "type", "enabled", "retired_at"]
    extra = 0
    show_change_link = True


class PresenceFilter(admin.SimpleListFilter):
    """Online and offline as the stats API counts them: heard from within CERTCTL_AGENT_OFFLINE_AFTER, not retired."""

    title = "presence"
    parameter_name = "presence"

    def lookups(self, request, model_admin):
        return [("online", "Online"), ("offline", "Offline"), ("retired", "Retired")]

    def queryset(self, request, queryset):
        online = agent_online(timezone.now())
        if self.value() == "online":
            return queryset.filter(online, retired_at__isnull=True)
        if self.value() == "offline":
            return queryset.filter(retired_at__isnull=True).exclude(online)
        if self.value() == "retired":
            return queryset.filter(retired_at__isnull=False)
        return queryset


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "hostname", "status", "last_heartbeat_at", "version", "os", "retired_at"]
    list_filter = [PresenceFilter, "status", "os", "architecture"]
    search_fields = ["name", "hostname", "id", "ip_address"]
    date_hierarchy = "registered_at"
    readonly_fields = ["id", "registered_at", "last_heartbeat_at", "retired_at"]
    inlines = [TargetInline]
