"""The operators' UI for agents, the targets they deploy to and agent groups."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from certificates.agents.models import AgentGroup
from certificates.agents.services import groups
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


@admin.register(AgentGroup)
class AgentGroupAdmin(admin.ModelAdmin):
    """Explicit members plus the agents matching every criterion set; the API's GET …/members lists them all."""

    list_display = ["name", "match_os", "match_architecture", "match_cidr", "enabled", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "id", "description"]
    readonly_fields = ["id", "created_at", "updated_at", "current_members"]
    autocomplete_fields = ["explicit_members"]

    @admin.display(description="members now (explicit and matching)")
    def current_members(self, obj: AgentGroup) -> str:
        if obj.pk is None:
            return "-"
        return ", ".join(agent.name for agent in groups.members(obj)) or "none"

    def save_model(self, request, obj, form, change) -> None:
        obj.match_cidr = groups.normalised_cidr(obj.match_cidr)
        super().save_model(request, obj, form, change)
