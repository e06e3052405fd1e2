"""certctl's admin site: the dashboard as its home page and the models grouped by task in every menu."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models.base import ModelBase
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from certctl.console.charts import stacked_bars
from certctl.console.navigation import grouped
from certctl.kernel.teams import TeamScopedAdmin, team_scoped
from certctl.services.dashboard import Dashboard, dashboard
from certificates.enums import CertificateStatus, JobStatus

TONES = {
    CertificateStatus.ACTIVE: "ok",
    CertificateStatus.EXPIRING: "warn",
    CertificateStatus.EXPIRED: "bad",
    CertificateStatus.FAILED: "bad",
    CertificateStatus.RENEWAL_IN_PROGRESS: "busy",
}

VIOLATION_TONES = {"Critical": "bad", "Error": "bad", "Warning": "warn"}


@dataclass
class Tile:
    label: str
    value: str
    url: str
    tone: str = ""  # ok, warn, bad, busy, or neutral
    note: str = ""


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


class ConsoleSite(admin.AdminSite):
    site_header = "certctl"
    site_title = "certctl"
    index_title = "Operator console"
    index_template = "admin/certctl/index.html"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin of a team-scoped model also limits staff bound to teams to those teams' rows."""
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        for model in models:
            chosen = admin_class or admin.ModelAdmin
            if team_scoped(model) and not issubclass(chosen, TeamScopedAdmin):
                chosen = type(chosen.__name__, (TeamScopedAdmin, chosen), {"__module__": chosen.__module__})
            super().register(model, chosen, **options)

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        if app_label:
            return app_list
        return grouped(app_list, reverse("admin:index", current_app=self.name))

    def index(self, request, extra_context=None):
        board = dashboard()
        context = {
            "subtitle": None,
            "tile_groups": self.tile_groups(request, board, timezone.now()),
            "charts": [
                (
                    "Expiries per week, next 90 days, by team",
                    stacked_bars(board.expiries_by_week, "Expiries per week"),
                ),
                (
                    "Issuances per day, last 30 days",
                    stacked_bars(board.issuances_per_day, "Issuances per day", label_every=5),
                ),
                (
                    "Notifications per day, last 14 days, by outcome",
                    stacked_bars(board.notifications_per_day, "Notifications per day", label_every=2),
                ),
            ],
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)

    def _changelist(self, request, model: str, **query) -> str | None:
        """The changelist URL of `app.Model` with `query`, or None when the user may not view it."""
        app_label, name = model.split(".")
        if not request.user.has_perm(f"{app_label}.view_{name.lower()}"):
            return None
        try:
            url = reverse(f"admin:{app_label}_{name.lower()}_changelist", current_app=self.name)
        except NoReverseMatch:
            return None
        return f"{url}?{urlencode(query)}" if query else url

    def tile_groups(self, request, board: Dashboard, now: datetime) -> list[tuple[str, list[Tile]]]:
        s = board.summary
        certs = "certificates.ManagedCertificate"
        groups: list[tuple[str, list[Tile | None]]] = [
            (
                "Needs attention",
                [
                    self._tile(
                        request, "Expiring in 7 days", s["expiring_within_7_days"], certs, "warn", expiry="7d"
                    ),
                    self._tile(
                        request,
                        "Expiring in 30 days",
                        s["expiring_certificates"],
                        certs,
                        "warn",
                        expiry="30d",
                    ),
                    self._tile(request, "Expired", s["expired_certificates"], certs, "bad", expiry="expired"),
                    self._tile(
                        request,
                        "Dead-letter notifications",
                        s["notifications_dead"],
                        "notifications.DeadLetterNotification",
                        "bad",
                    ),
                    self._tile(
                        request,
                        "Failed jobs",
                        s["failed_jobs"],
                        "certificates.Job",
                        "bad",
                        status__exact=JobStatus.FAILED,
                    ),
                    self._tile(
                        request, "Pending jobs", s["pending_jobs"], "certificates.Job", "busy", state="open"
                    ),
                    self._tile(
                        request,
                        "Approvals waiting",
                        board.approvals_waiting,
                        "certificates.ApprovalRequest",
                        "warn",
                        state__exact="pending",
                    ),
                ],
            ),
            (
                "Compliance",
                [
                    *[
                        self._tile(
                            request,
                            f"{severity} violations",
                            count,
                            "certificates.Violation",
                            VIOLATION_TONES[severity],
                            state="open",
                            severity__exact=severity,
                        )
                        for severity, count in board.open_violations.items()
                    ],
                    self._tile(
                        request,
                        "Unmanaged discovered certificates",
                        board.unmanaged_discovered,
                        "certificates.DiscoveredCertificate",
                        "warn",
                        status__exact="Unmanaged",
                    ),
                ],
            ),
            (
                "Certificates by status",
                [
                    self._tile(
                        request,
                        status.label,
                        s["certificates_by_status"][status.value],
                        certs,
                        TONES.get(status, ""),
                        status__exact=status.value,
                    )
                    for status in CertificateStatus
                ],
            ),
            (
                "Agents and background work",
                [
                    self._tile(
                        request,
                        "Agents online",
                        s["active_agents"],
                        "certificates.Agent",
                        "ok",
                        presence="online",
                    ),
                    self._tile(
                        request,
                        "Agents offline",
                        s["offline_agents"],
                        "certificates.Agent",
                        "bad",
                        presence="offline",
                    ),
                    *[
                        self._heartbeat_tile(request, beat.kind, beat.age_seconds, beat.stale)
                        for beat in board.heartbeats
                    ],
                    self._expiry_check_tile(request, board, now),
                    *[self._crl_tile(request, crl) for crl in board.crls],
                ],
            ),
        ]
        return [(title, [tile for tile in tiles if tile is not None]) for title, tiles in groups]

    def _tile(self, request, label: str, count: int, model: str, tone: str, **query) -> Tile | None:
        url = self._changelist(request, model, **query)
        if url is None:
            return None
        return Tile(label=label, value=f"{count:,}", url=url, tone=tone if count else "")

    def _heartbeat_tile(self, request, kind: str, age: float | None, stale: bool) -> Tile | None:
        url = self._changelist(request, "certctl.ProcessHeartbeat")
        if url is None:
            return None
        note = "stale: is it running?" if stale else "heartbeat"
        return Tile(
            label=f"Celery {kind}", value=_age(age), url=url, tone="bad" if stale else "ok", note=note
        )

    def _expiry_check_tile(self, request, board: Dashboard, now: datetime) -> Tile | None:
        url = self._changelist(request, "certificates.ExpiryCheckRun")
        if url is None:
            return None
        run = board.last_expiry_check
        if run is None:
            return Tile(label="Last expiry check", value="never", url=url, tone="warn")
        note = f"{run.scanned:,} scanned, {run.alerts_created:,} alerts"
        return Tile("Last expiry check", _age((now - run.finished_at).total_seconds()), url, "", note)

    def _crl_tile(self, request, crl) -> Tile | None:
        url = self._changelist(request, "certificates.CRLCache", issuer__id__exact=crl.issuer_id)
        if url is None:
            return None
        if crl.next_update is None:
            return Tile(f"CRL of {crl.issuer_name}", "not generated", url, "bad")
        note = f"next update {crl.next_update:%Y-%m-%d %H:%M} UTC"
        return Tile(
            f"CRL of {crl.issuer_name}", _age(crl.age_seconds), url, "bad" if crl.overdue else "ok", note
        )
