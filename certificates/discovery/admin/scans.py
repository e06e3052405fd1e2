"""Discovery admin: scan profiles (targets checked on save, "Scan now"), runs (progress, cancel, resume, their
chunks) and chunks, read-only."""

from __future__ import annotations

from ipaddress import IPv4Address

from django import forms
from django.contrib import admin, messages

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.discovery.models import ScanChunk, ScanProfile, ScanRun
from certificates.discovery.services import scans
from certificates.discovery.services.targets import TargetError, parse_targets, spec_size


class ScanProfileForm(forms.ModelForm):
    """Targets one per line and ports comma-separated, both checked with the API's rules."""

    targets = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        help_text="One per line: host:port, host (name sent as SNI), sni@address:port, an IPv4 range up to a "
        "/16 (10.0.0.0/24), an IPv6 address ([2001:db8::1]:8443). Only these are ever contacted.",
    )
    ports = forms.CharField(
        required=False, help_text="Comma-separated, for entries without a port (empty: 443). At most 32."
    )

    class Meta:
        model = ScanProfile
        fields = [
            "name",
            "description",
            "targets",
            "ports",
            "interval_minutes",
            "concurrency",
            "timeout_ms",
            "chunk_size",
            "enabled",
            "team",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["targets"] = "\n".join(self.instance.targets or [])
            self.initial["ports"] = ", ".join(str(port) for port in self.instance.ports or [])

    def clean_targets(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["targets"].splitlines() if line.strip()]

    def clean_ports(self) -> list[int]:
        raw = [item.strip() for item in self.cleaned_data.get("ports", "").replace(" ", ",").split(",")]
        try:
            return [int(item) for item in raw if item]
        except ValueError:
            raise forms.ValidationError("ports are numbers, e.g. 443, 8443") from None

    def clean(self):
        cleaned = super().clean()
        if "targets" in cleaned and "ports" in cleaned:
            try:
                parse_targets(cleaned["targets"], cleaned["ports"])
            except TargetError as exc:
                for field, problems in exc.fields.items():
                    self.add_error(field, problems)
        for field, low, high in (
            ("concurrency", 1, 512),
            ("timeout_ms", 100, 60_000),
            ("chunk_size", 1, 65_536),
        ):
            value = cleaned.get(field)
            if value is not None and not low <= value <= high:
                self.add_error(field, f"between {low} and {high}")
        return cleaned


@admin.action(description="Scan now", permissions=["change"])
def scan_now(modeladmin, request, queryset):
    """Start a run of each selected profile (one active run per profile)."""
    for profile in queryset:
        try:
            run = scans.start_profile_run(profile, requested_by=request.user.get_username())
        except (scans.ScanStateError, TargetError) as exc:
            modeladmin.message_user(request, f"{profile.name}: {exc}", messages.WARNING)
            continue
        modeladmin.message_user(request, f"{profile.name}: run {run.pk} started.", messages.SUCCESS)


@admin.register(ScanProfile)
class ScanProfileAdmin(admin.ModelAdmin):
    form = ScanProfileForm
    list_display = [
        "name",
        "enabled",
        "interval_minutes",
        "concurrency",
        "timeout_ms",
        "last_run_at",
        "next_run_at",
    ]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]
    readonly_fields = ["last_run_at", "next_run_at", "created_at", "updated_at"]
    autocomplete_fields = ["team"]
    actions = [scan_now]


class ScanChunkInline(admin.TabularInline):
    model = ScanChunk
    fields = [
        "index",
        "status",
        "what",
        "targets",
        "found",
        "errors",
        "attempts",
        "claimed_until",
        "finished_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="targets of the chunk")
    def what(self, chunk: ScanChunk) -> str:
        return describe_spec(chunk.spec)


def describe_spec(spec: dict) -> str:
    if "targets" in spec:
        shown = ", ".join(spec["targets"][:3])
        more = len(spec["targets"]) - 3
        return f"{shown} (+{more} more)" if more > 0 else shown
    first = IPv4Address(spec["first"])
    last = IPv4Address(spec["first"] + spec["count"] - 1)
    ports = ",".join(str(port) for port in spec["ports"])
    return f"{first} - {last} on {ports} ({spec_size(spec)} targets)"


@admin.action(description="Cancel selected runs", permissions=["operate"])
def cancel_runs(modeladmin, request, queryset):
    for run in queryset:
        try:
            scans.cancel_run(run, actor=request.user.get_username())
        except scans.ScanStateError as exc:
            modeladmin.message_user(request, str(exc), messages.WARNING)
            continue
        modeladmin.message_user(request, f"Run {run.pk} cancelled.", messages.SUCCESS)


@admin.action(description="Resume selected runs", permissions=["operate"])
def resume_runs(modeladmin, request, queryset):
    for run in queryset:
        try:
            scans.resume_run(run, actor=request.user.get_username())
        except scans.ScanStateError as exc:
            modeladmin.message_user(request, str(exc), messages.WARNING)
            continue
        modeladmin.message_user(request, f"Run {run.pk} resumed.", messages.SUCCESS)


@admin.register(ScanRun)
class ScanRunAdmin(ReadOnlyAdmin):
    """Runs are written by the scan workers: cancel and resume are the only changes."""

    list_display = [
        "id",
        "profile_name",
        "status",
        "progress",
        "found",
        "new_certificates",
        "errors",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["id", "profile_name"]
    inlines = [ScanChunkInline]
    actions = [cancel_runs, resume_runs]
    readonly_fields = [
        "id",
        "profile",
        "profile_name",
        "status",
        "requested_by",
        "progress",
        "targets_total",
        "targets_done",
        "found",
        "new_certificates",
        "errors",
        "chunks_total",
        "chunks_done",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    ]
    fields = readonly_fields

    @admin.display(description="progress")
    def progress(self, run: ScanRun) -> str:
        share = run.targets_done / run.targets_total * 100 if run.targets_total else 100
        return f"{run.targets_done:,} / {run.targets_total:,} ({share:.0f}%), chunks {run.chunks_done}/{run.chunks_total}"


@admin.register(ScanChunk)
class ScanChunkAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "index", "status", "targets", "found", "errors", "attempts", "claimed_until"]
    list_filter = ["status"]
    search_fields = ["id", "run__id"]
    list_select_related = ["run"]
    readonly_fields = [
        "id",
        "run",
        "index",
        "what",
        "spec",
        "status",
        "claimed_until",
        "attempts",
        "targets",
        "found",
        "errors",
        "finished_at",
    ]
    fields = readonly_fields

    @admin.display(description="targets of the chunk")
    def what(self, chunk: ScanChunk) -> str:
        return describe_spec(chunk.spec)
