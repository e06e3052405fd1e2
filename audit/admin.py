"""Read-only audit trail in the admin: filters, search by resource, no add/change/delete for anyone."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent
from certctl.kernel.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "seq", "actor", "actor_type", "action", "resource_type", "resource_id")
    list_filter = ("actor_type", "resource_type", "action", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("^resource_id", "=resource_type", "=actor", "=id")
    date_hierarchy = "timestamp"
    ordering = ("-timestamp", "-seq")
    show_full_result_count = False
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
