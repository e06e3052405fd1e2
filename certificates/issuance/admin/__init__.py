"""The operators' UI for issuance: issuers, jobs (cancel through the state machine), approvals with the same
two-person rule as the API, and server-generated keys (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.enums import OPEN_JOB_STATUSES
from certificates.inventory.models import Issuer
from certificates.issuance.forms import IssuerAdminForm
from certificates.issuance.models import ApprovalRequest, Job, ServerGeneratedKey
from certificates.issuance.services import approvals
from certificates.issuance.services import jobs as job_service
from certificates.issuance.services.issuer_config import save_issuer


def decide_requests(requests, decide, *, actor: str, note: str = "") -> tuple[list[str], list[str]]:
    """Decide each request as `actor`; returns (decided ids, refusal messages). Admin and tests call this."""
    decided, refused = [], []
    for request in requests:
        try:
            decide(request, actor=actor, actor_type="User", note=note)
        except approvals.ApprovalError as exc:
            refused.append(f"{request.pk}: {exc}")
        else:
            decided.append(request.pk)
    return decided, refused


def _run(modeladmin, request, queryset, decide, verb: str) -> None:
    decided, refused = decide_requests(
        list(queryset), decide, actor=request.user.get_username(), note=f"{verb} in the admin"
    )
    if decided:
        modeladmin.message_user(request, f"{verb.capitalize()} {len(decided)} request(s).", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, reason, messages.ERROR)


@admin.action(description="Approve selected requests (not your own)", permissions=["change"])
def approve_selected(modeladmin, request, queryset) -> None:
    _run(modeladmin, request, queryset, approvals.approve, "approved")


@admin.action(description="Reject selected requests", permissions=["change"])
def reject_selected(modeladmin, request, queryset) -> None:
    _run(modeladmin, request, queryset, approvals.reject, "rejected")


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    """Secrets live in `encrypted_config` and are never rendered; the page only says whether they exist."""

    form = IssuerAdminForm
    list_display = ["name", "type", "enabled", "test_status", "has_secrets", "last_tested_at"]
    list_filter = ["type", "enabled", "test_status"]
    search_fields = ["name", "id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "name",
        "type",
        "enabled",
        "config",
        "secrets",
        "has_secrets",
        "test_status",
        "last_tested_at",
    ]
    readonly_fields = ["id", "has_secrets", "last_tested_at", "test_status", "created_at", "updated_at"]

    def save_model(self, request, obj: Issuer, form, change) -> None:
        # The same service as the API: secrets are merged into the encrypted blob, never stored in clear.
        save_issuer(obj, {}, form.cleaned_data.get("secrets"))

    @admin.display(boolean=True, description="Secrets stored")
    def has_secrets(self, obj: Issuer) -> bool:
        return bool(obj.encrypted_config)


class OpenJobFilter(admin.SimpleListFilter):
    """ "Open" is the stats API's pending_jobs: Pending, AwaitingCSR, AwaitingApproval and Running."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open (not finished)")]

    def queryset(self, request, queryset):
        return queryset.filter(status__in=OPEN_JOB_STATUSES) if self.value() == "open" else queryset


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "type",
        "status",
        "certificate",
        "agent",
        "attempts",
        "scheduled_at",
        "completed_at",
    ]
    list_filter = [OpenJobFilter, "type", "status"]
    list_select_related = ["certificate", "agent"]
    search_fields = ["id", "certificate__name", "certificate__common_name", "last_error"]
    autocomplete_fields = ["certificate", "target", "agent"]
    date_hierarchy = "scheduled_at"
    # State changes go through the job state machine (certificates.issuance.services.jobs), never a form field.
    readonly_fields = [
        "id",
        "type",
        "certificate",
        "target",
        "agent",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
        "version",
        "verification_status",
        "verified_at",
        "verification_error",
        "verification_fingerprint",
    ]
    actions = ["cancel_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_selected(self, request, queryset) -> None:
        cancelled = 0
        for job in queryset:
            try:
                job_service.cancel(job, actor=request.user.get_username())
            except job_service.InvalidTransition as exc:
                self.message_user(request, f"{job.pk}: {exc}", messages.ERROR)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} job(s).", messages.SUCCESS)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "certificate", "profile", "state", "requested_by", "decided_by", "created_at"]
    list_filter = ["state", "profile"]
    list_select_related = ["certificate", "profile"]
    search_fields = ["id", "certificate__name", "requested_by", "decided_by"]
    autocomplete_fields = ["certificate", "job", "profile"]
    date_hierarchy = "created_at"
    # Decisions only through the actions, which enforce the two-person rule (certificates.issuance.services.approvals).
    readonly_fields = [
        "id",
        "certificate",
        "job",
        "profile",
        "requested_by",
        "state",
        "decided_by",
        "decided_at",
        "decision_note",
        "metadata",
        "created_at",
        "updated_at",
    ]
    actions = [approve_selected, reject_selected]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServerGeneratedKey)
class ServerGeneratedKeyAdmin(ReadOnlyAdmin):
    """Which versions have a server-held key (CERTCTL_KEYGEN_MODE=server); the ciphertext is never shown."""

    list_display = ["id", "version", "created_at"]
    search_fields = ["=id", "=version__id", "version__certificate__name"]
    fields = ["id", "version", "created_at"]


# Registered after the classes above: the certificate page's Renew, Issue and Export buttons; ACME orders.
from certificates.issuance.admin import acme, certificate_page  # noqa: E402, F401
