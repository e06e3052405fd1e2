"""Discovery admin: the endpoints where certificates were seen (with the change flag) and the sightings."""

from __future__ import annotations

from django.contrib import admin, messages

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.discovery.admin.inventory import ChangedFilter, actor_of
from certificates.discovery.models import DiscoveryEndpoint, DiscoverySighting
from certificates.discovery.services import inventory


@admin.action(description="Acknowledge the change", permissions=["operate"])
def acknowledge_selected(modeladmin, request, queryset):
    done = sum(inventory.acknowledge_change(endpoint, **actor_of(request)) for endpoint in queryset)
    modeladmin.message_user(request, f"Acknowledged {done} changed endpoint(s).", messages.SUCCESS)


@admin.register(DiscoveryEndpoint)
class DiscoveryEndpointAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "kind",
        "current_certificate",
        "previous_certificate",
        "changed_at",
        "change_acknowledged_at",
        "chain_problem",
        "protocol",
        "last_seen_at",
    ]
    list_filter = ["kind", ChangedFilter, "chain_problem"]
    list_select_related = ["current_certificate", "previous_certificate"]
    search_fields = ["address", "sni", "hostname", "path", "=id"]
    actions = [acknowledge_selected]


@admin.register(DiscoverySighting)
class DiscoverySightingAdmin(ReadOnlyAdmin):
    list_display = [
        "certificate",
        "source",
        "endpoint",
        "key_present",
        "detail",
        "first_seen_at",
        "last_seen_at",
    ]
    list_filter = ["source"]
    list_select_related = ["certificate", "endpoint"]
    search_fields = ["certificate__common_name", "certificate__fingerprint_sha256", "detail", "=id"]
