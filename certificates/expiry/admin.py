"""Expiry in the console: the runs of the expiry check, and on the certificate page who would be alerted when."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.expiry.models import ExpiryCheckRun
from certificates.expiry.services.routes import resolve_routes
from certificates.inventory.admin import page
from notifications.services.quiet import quiet_until


@admin.register(ExpiryCheckRun)
class ExpiryCheckRunAdmin(ReadOnlyAdmin):
    list_display = ["finished_at", "checked_at", "duration_ms", "scanned", "alerts_created", "status_changes"]
    date_hierarchy = "finished_at"


def alert_plan(certificate) -> page.Panel | None:
    """Per threshold: its tier, and every destination considered, included or skipped with the reason
    (the same resolution as the check and `GET /api/v1/certificates/{id}/alert-routes`)."""
    now = timezone.now()
    routes = resolve_routes(certificate, now)
    team = certificate.team
    until = quiet_until(team, now)
    quiet = ""
    if team.quiet_hours_start and team.quiet_hours_end:
        state = f"now, until {until:%Y-%m-%d %H:%M} UTC" if until else "not now"
        quiet = (
            f" Quiet hours {team.quiet_hours_start:%H:%M}-{team.quiet_hours_end:%H:%M} {team.timezone} "
            f"({state}): non-critical alerts wait for the end of the window."
        )
    panel = page.Panel(
        title="Who is alerted",
        headers=["Threshold", "Tier", "Fired", "Destination", "Route", "Recipient", "Routed?"],
        note=f"Renewal policy {certificate.renewal_policy.name}, team {team.name}. Order: policy, owner, team, "
        "then the default destinations when none of those applies. Per run each destination gets only the most "
        "urgent threshold that fired; once expired, a critical EXPIRED alert. Routed says a destination takes "
        "the threshold's alert; the timeline below shows what was sent." + quiet,
    )
    for route in routes:
        if not route.destinations:
            panel.rows.append(
                [route.label, route.tier, _yes(route.fired), "none", "-", "-", "no destination"]
            )
        for entry in route.destinations:
            if entry.included:
                sent = f"yes, held until {entry.deferred_until:%H:%M} UTC" if entry.deferred_until else "yes"
            else:
                sent = f"no: {entry.skipped_reason}"
            panel.rows.append(
                [
                    route.label,
                    str(route.tier),
                    _yes(route.fired),
                    entry.name,
                    entry.reason,
                    entry.recipient_for(certificate.owner.email) if entry.included else "-",
                    sent,
                ]
            )
    return panel


def _yes(value: bool) -> str:
    return "yes" if value else "no"


page.add_panel(alert_plan)
