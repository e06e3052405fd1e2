"""Read-only audit trail in the admin: filters, search by resource, no add/change/delete for anyone."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "seq", "actor", "actor_type", "action", "resource_type", "resource_id")
    list_filter = ("actor_type", "resource_type", "action", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("^resource_id", "=resource_type", "=actor", "=id")
    date_hierarchy = "timestamp"
    ordering = ("-timestamp", "-seq")
    show_full_result_count = False
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
