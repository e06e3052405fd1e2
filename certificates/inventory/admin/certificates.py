"""The certificate list and the certificate page: read-only facts, list inputs, buttons and a timeline.

Buttons, timeline rows and panels come from the packages that own them (certificates.inventory.admin.page);
this module adds the inventory's own: issued versions, notifications and audit events.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.models import AuditEvent
from certificates.enums import CertificateStatus
from certificates.inventory.admin import page
from certificates.inventory.forms import ManagedCertificateAdminForm
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.inventory.querysets import expiry_buckets
from certificates.inventory.services.certificates import (
    archive_certificate,
    create_certificate,
    update_certificate,
)
from notifications.models import NotificationEvent

STATUS_CSS = {
    CertificateStatus.PENDING: "pending",
    CertificateStatus.ACTIVE: "ok",
    CertificateStatus.EXPIRING: "warn",
    CertificateStatus.EXPIRED: "bad",
    CertificateStatus.RENEWAL_IN_PROGRESS: "busy",
    CertificateStatus.FAILED: "bad",
    CertificateStatus.REVOKED: "muted",
    CertificateStatus.ARCHIVED: "muted",
}
FINAL = (CertificateStatus.REVOKED, CertificateStatus.ARCHIVED)
# What the API does not let a client set (WRITE_ONLY_VIA_ACTIONS and source), plus status and expiry, which come
# from issuance, the expiry check, revocation and archiving: the buttons and actions on this page.
MAINTAINED = [
    "status",
    "expires_at",
    "last_renewal_at",
    "last_deployment_at",
    "revoked_at",
    "revocation_reason",
    "source",
]


class ExpiryWindowFilter(admin.SimpleListFilter):
    """The console's expiry tiles link here; the buckets are the stats API's, so the counts agree."""

    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("7d", "Expiring within 7 days"), ("30d", "Expiring within 30 days"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "7d":
            return queryset.filter(expiry_buckets(now, 7)["expiring"])
        if self.value() == "30d":
            return queryset.filter(expiry_buckets(now)["expiring"])
        if self.value() == "expired":
            return queryset.filter(expiry_buckets(now)["expired"])
        return queryset


class CertificateVersionInline(admin.TabularInline):
    model = CertificateVersion
    fields = ["serial_number", "not_before", "not_after", "key_algorithm", "key_size", "fingerprint_sha256"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]


@admin.register(ManagedCertificate)
class ManagedCertificateAdmin(admin.ModelAdmin):
    form = ManagedCertificateAdminForm
    change_form_template = "admin/certificates/managedcertificate/change_form.html"
    # Fits 1366 px beside the menu and the filters: the expiry date is the days-left cell's tooltip, the owner
    # shows by name, issuer and environment are filters.
    list_display = ["name", "common_name", "status_badge", "days_to_expiry", "owner_name", "team"]
    list_filter = [ExpiryWindowFilter, "status", "environment", "team", "issuer", "renewal_policy", "source"]
    list_select_related = ["owner", "team", "issuer"]
    search_fields = ["name", "common_name", "id", "owner__name", "owner__email"]
    date_hierarchy = "expires_at"
    autocomplete_fields = ["owner", "team", "issuer", "renewal_policy", "profile", "targets"]
    inlines = [CertificateVersionInline]
    list_per_page = 50
    actions = ["archive_selected"]  # certificates.revocation.admin adds "Revoke selected certificates"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # a certificate tracked from outside may start with a known expiry
            return ["id", *[name for name in MAINTAINED if name != "expires_at"]]
        return ["id", *MAINTAINED, "created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # like the API: certificates are archived, their history stays

    def save_model(self, request, obj: ManagedCertificate, form, change) -> None:
        # The same audited services as the API; the admin adds nothing of its own.
        actor = {"actor": request.user.get_username(), "actor_type": "User"}
        targets = form.cleaned_data.get("targets")
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name != "targets"}
            saved = update_certificate(obj, changes, targets=targets, **actor)
        else:
            fields = {name: value for name, value in form.cleaned_data.items() if name != "targets"}
            saved = create_certificate(fields, targets=targets, **actor)
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in obj._meta.concrete_fields})
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_related(self, request, form, formsets, change) -> None:
        for formset in formsets:  # targets were set by the service
            self.save_formset(request, form, formset, change=change)

    # --- The page: buttons, timeline, panels ---------------------------------------------------------------

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        action_urls = [
            path(
                f"<path:object_id>/{action.slug}/",
                self.admin_site.admin_view(self._action_view(action)),
                name=f"{info[0]}_{info[1]}_{action.slug}",
            )
            for action in page.PAGE_ACTIONS
        ]
        return action_urls + super().get_urls()

    def _action_view(self, action: page.PageAction):
        def view(request, object_id: str):
            certificate = self.get_object(request, unquote(object_id))
            if certificate is None:
                raise Http404("no such certificate")
            if action not in page.actions_for(request, certificate):
                raise PermissionDenied
            return action.view(self, request, certificate)

        return view

    def change_view(self, request, object_id, form_url="", extra_context=None):
        certificate = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if certificate is not None:
            context.update(
                page_actions=[
                    (
                        action.label,
                        reverse(
                            f"admin:certificates_managedcertificate_{action.slug}", args=[certificate.pk]
                        ),
                    )
                    for action in page.actions_for(request, certificate)
                ],
                timeline=page.timeline(certificate),
                panels=page.panels(certificate),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    # --- The list -------------------------------------------------------------------------------------------

    @admin.action(description="Archive selected certificates", permissions=["change"])
    def archive_selected(self, request, queryset) -> None:
        actor = request.user.get_username()
        archived = sum(archive_certificate(cert, actor=actor, actor_type="User") for cert in queryset)
        self.message_user(request, f"Archived {archived} certificate(s).", messages.SUCCESS)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: ManagedCertificate) -> str:
        css = STATUS_CSS.get(obj.status, "muted")
        return format_html("<span class='certctl-status certctl-status-{}'>{}</span>", css, obj.status)

    @admin.display(description="Owner", ordering="owner__name")
    def owner_name(self, obj: ManagedCertificate) -> str:
        return obj.owner.name

    @admin.display(description="Days left", ordering="expires_at")
    def days_to_expiry(self, obj: ManagedCertificate) -> str:
        if obj.expires_at is None:
            return "-"
        now = timezone.now()
        seconds = (obj.expires_at - now).total_seconds()
        if seconds >= 0:
            days = int(seconds / 86400)  # whole days, truncated toward zero like the expiry check
            css, label = ("warn" if days <= 30 else "ok"), str(days)
        else:
            # Calendar days in the console's time zone: "today" only when it expired on today's date.
            days_ago = (timezone.localdate(now) - timezone.localdate(obj.expires_at)).days
            css, label = "bad", ("expired today" if days_ago == 0 else f"expired {days_ago}d ago")
        if obj.status in FINAL:
            css = "muted"  # a revoked or archived certificate's expiry needs no attention
        expires = timezone.localtime(obj.expires_at).strftime("%Y-%m-%d %H:%M %Z")
        return format_html(
            "<span class='certctl-days certctl-days-{}' title='expires {}'>{}</span>", css, expires, label
        )


def _versions(certificate: ManagedCertificate) -> Iterable[page.TimelineEntry]:
    for version in certificate.versions.order_by("-created_at")[: page.TIMELINE_LIMIT]:
        yield page.TimelineEntry(
            at=version.created_at,
            kind="version",
            title=f"Issued serial {version.serial_number}",
            detail=f"valid {version.not_before:%Y-%m-%d} to {version.not_after:%Y-%m-%d}",
            url=reverse("admin:certificates_certificateversion_change", args=[version.pk]),
        )


def _notifications(certificate: ManagedCertificate) -> Iterable[page.TimelineEntry]:
    rows = NotificationEvent.objects.filter(certificate=certificate).order_by("-created_at")
    for event in rows[: page.TIMELINE_LIMIT]:
        yield page.TimelineEntry(
            at=event.created_at,
            kind="notification",
            title=f"{event.type} via {event.channel}: {event.status}",
            detail=event.recipient or "",
            url=reverse("admin:notifications_notificationevent_change", args=[event.pk]),
        )


def _audit(certificate: ManagedCertificate) -> Iterable[page.TimelineEntry]:
    rows = AuditEvent.objects.filter(resource_type="certificate", resource_id=certificate.pk).order_by(
        "-timestamp"
    )
    for event in rows[: page.TIMELINE_LIMIT]:
        yield page.TimelineEntry(
            at=event.timestamp,
            kind="audit",
            title=event.action,
            detail=f"by {event.actor}",
            url=reverse("admin:audit_auditevent_change", args=[event.pk]),
        )


for _source in (_versions, _notifications, _audit):
    page.add_timeline_source(_source)
