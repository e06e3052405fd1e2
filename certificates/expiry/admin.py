"""Expiry in the console: the runs of the expiry check, and on the certificate page who would be alerted when."""

from __future__ import annotations

from django.contrib import admin

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.expiry.models import ExpiryCheckRun
from certificates.expiry.services.routing import policy_routing, recipient_for
from certificates.inventory.admin import page
from notifications.channels import get_channel


@admin.register(ExpiryCheckRun)
class ExpiryCheckRunAdmin(ReadOnlyAdmin):
    list_display = ["finished_at", "checked_at", "duration_ms", "scanned", "alerts_created", "status_changes"]
    date_hierarchy = "finished_at"


def alert_plan(certificate) -> page.Panel | None:
    """Per threshold of the certificate's renewal policy: its tier, and each channel with its recipient."""
    policy = certificate.renewal_policy
    routing = policy_routing(policy.alert_thresholds_days, policy.alert_severity_map, policy.alert_channels)
    panel = page.Panel(
        title="Who is alerted",
        headers=["Days before expiry", "Tier", "Channel", "Recipient", "Configured"],
        note=f"From renewal policy {policy.name}. Each alert is sent once per threshold and channel for an expiry; "
        "once expired, every alert is critical.",
    )
    for threshold in sorted(routing.thresholds, reverse=True):
        tier = routing.tier_for(threshold)
        channels = routing.route_for(tier).channels
        if not channels:
            panel.rows.append([str(threshold), tier, "none", "-", "-"])
        for name in channels:
            configured = "yes" if get_channel(name).is_configured() else "no: not sent"
            panel.rows.append(
                [str(threshold), tier, name, recipient_for(name, certificate.owner.email), configured]
            )
    return panel


page.add_panel(alert_plan)
