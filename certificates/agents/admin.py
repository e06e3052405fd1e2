"""The operators' UI for agents and the targets they deploy to."""

from __future__ import annotations

from django.contrib import admin

from certificates.inventory.models import Agent, DeploymentTarget


class TargetInline(admin.TabularInline):
    model = DeploymentTarget
    fields = ["name", "type", "enabled", "retired_at"]
    extra = 0
    show_change_link = True


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "hostname", "status", "last_heartbeat_at", "version", "os", "retired_at"]
    list_filter = ["status", "os", "architecture"]
    search_fields = ["name", "hostname", "id", "ip_address"]
    date_hierarchy = "registered_at"
    readonly_fields = ["id", "registered_at", "last_heartbeat_at", "retired_at"]
    inlines = [TargetInline]
