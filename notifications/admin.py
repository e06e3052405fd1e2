"""Operator UI: every notification ("All"), the dead-letter queue, requeue, and a per-channel test send."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from notifications.admin_destinations import DestinationListFilter  # also registers the destinations' admin
from notifications.channels import REGISTRY
from notifications.enums import NotificationStatus
from notifications.models import DeadLetterNotification, NotificationEvent
from notifications.services import operator
from notifications.services.acknowledge import acknowledge
from notifications.services.destinations import row_destination_id
from notifications.services.test_send import send_test

ERROR_PREVIEW_CHARS = 160


@admin.action(description="Requeue selected (failed or dead) notifications", permissions=["change"])
def requeue_selected(modeladmin, request: HttpRequest, queryset) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    requeued = operator.requeue_many(actor=request.user.get_username(), actor_type="User", ids=ids)
    skipped = len(ids) - len(requeued)
    modeladmin.message_user(request, f"Requeued {len(requeued)} notification(s).", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request,
            f"Skipped {skipped} that were not failed or dead (or were being delivered).",
            messages.WARNING,
        )


@admin.action(description="Acknowledge selected alerts (stops their escalation)", permissions=["change"])
def acknowledge_selected(modeladmin, request: HttpRequest, queryset) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    results = [
        acknowledge(pk, actor=request.user.get_username(), actor_type="User", via="admin") for pk in ids
    ]
    done = sum(1 for result in results if result.acknowledged_now)
    modeladmin.message_user(request, f"Acknowledged {done} alert(s) and their incidents.", messages.SUCCESS)
    if len(results) > done:
        modeladmin.message_user(request, f"{len(results) - done} were already acknowledged.", messages.INFO)


class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "type",
        "channel",
        "destination_link",
        "certificate_link",
        "recipient",
        "status",
        "attempt",
        "error",
        "next_retry_at",
        "created_at",
    ]
    list_select_related = ["certificate"]
    list_filter = ["status", "channel", DestinationListFilter, "type"]
    search_fields = ["id", "recipient", "subject", "certificate__id"]
    date_hierarchy = "created_at"
    actions = [requeue_selected, acknowledge_selected]
    list_per_page = 100
    change_list_template = "admin/notifications/change_list.html"
    change_form_template = "admin/notifications/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting an alert is exactly the silent loss this app exists to prevent

    @admin.display(description="Attempt")
    def attempt(self, event: NotificationEvent) -> str:
        delivered = event.status in (NotificationStatus.SENT, NotificationStatus.READ) and event.sent_at
        return f"Attempt {event.retry_count + (1 if delivered else 0)}/{settings.NOTIFICATION_MAX_ATTEMPTS}"

    @admin.display(description="Destination", ordering="destination_name")
    def destination_link(self, event: NotificationEvent) -> str:
        dest_id = row_destination_id(event.destination_id, event.destination_name, event.channel)
        name = event.destination_name or f"{event.channel} (environment)"
        if dest_id is None:
            return f"{name} (deleted)"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:notifications_destination_change", args=[dest_id]), name
        )

    @admin.display(description="Certificate", ordering="certificate__name")
    def certificate_link(self, event: NotificationEvent) -> str:
        if event.certificate_id is None:
            return "—"
        url = reverse("admin:certificates_managedcertificate_change", args=[event.certificate_id])
        return format_html('<a href="{}">{}</a>', url, event.certificate.name)

    @admin.display(description="Last error")
    def error(self, event: NotificationEvent) -> str:
        if not event.last_error:
            return "—"
        short = Truncator(event.last_error).chars(ERROR_PREVIEW_CHARS)
        return format_html('<span class="certctl-error" title="{}">{}</span>', event.last_error, short)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Nothing here is editable: the buttons are Requeue and Mark read, not Save.
        event = self.get_object(request, object_id)
        context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            "event_actions": self._event_actions(request, event) if event else [],
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _event_actions(self, request, event: NotificationEvent) -> list[tuple[str, str]]:
        if not self.has_change_permission(request, event):
            return []
        opts = self.model._meta
        actions = []
        if event.status in operator.REQUEUEABLE:
            actions.append(
                ("Requeue", reverse(f"admin:{opts.app_label}_{opts.model_name}_requeue", args=[event.pk]))
            )
        if event.status in operator.READABLE and event.status != NotificationStatus.READ:
            actions.append(
                ("Mark read", reverse(f"admin:{opts.app_label}_{opts.model_name}_mark_read", args=[event.pk]))
            )
        return actions

    def _operate(self, request: HttpRequest, object_id: str, operation, done: str):
        """POST only: run `operation` (requeue or mark_read) as the logged-in user, then back to the page."""
        event = self.get_object(request, object_id)
        if event is None:
            raise Http404("no such notification")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request, event):
            raise PermissionDenied
        try:
            operation(event.pk, actor=request.user.get_username(), actor_type="User")
        except operator.InvalidTransition as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{event.pk} {done}.", messages.SUCCESS)
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[event.pk])
        )

    def requeue_view(self, request: HttpRequest, object_id: str):
        return self._operate(request, object_id, operator.requeue, "requeued: it will be delivered again")

    def mark_read_view(self, request: HttpRequest, object_id: str):
        return self._operate(request, object_id, operator.mark_read, "marked read")

    def get_urls(self):
        opts = self.model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        custom = [
            path("send-test/", self.admin_site.admin_view(self.send_test_view), name=f"{prefix}_send_test"),
            path(
                "<path:object_id>/requeue/",
                self.admin_site.admin_view(self.requeue_view),
                name=f"{prefix}_requeue",
            ),
            path(
                "<path:object_id>/mark-read/",
                self.admin_site.admin_view(self.mark_read_view),
                name=f"{prefix}_mark_read",
            ),
        ]
        return custom + super().get_urls()

    def send_test_view(self, request: HttpRequest):
        """A page listing every channel with its state and a "Send test notification" button each."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            channel = request.POST.get("channel", "")
            try:
                result = send_test(
                    channel,
                    actor=request.user.get_username(),
                    actor_type="User",
                    recipient=request.POST.get("recipient", "").strip() or request.user.email,
                )
            except ValueError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                level = messages.SUCCESS if result.ok else messages.ERROR
                self.message_user(request, f"{result.channel}: {result.detail}", level)
            return HttpResponseRedirect(request.path)
        channels = [{"name": name, "configured": cls().is_configured()} for name, cls in REGISTRY.items()]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Send test notification",
            "channels": channels,
            "default_recipient": request.user.email,
            "changelist_url": reverse(
                f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist"
            ),
        }
        return TemplateResponse(request, "admin/notifications/send_test.html", context)


@admin.register(NotificationEvent)
class AllNotificationsAdmin(NotificationAdmin):
    pass


@admin.register(DeadLetterNotification)
class DeadLetterAdmin(NotificationAdmin):
    list_filter = ["channel", DestinationListFilter, "type"]

    def get_queryset(self, request):
        return super().get_queryset(request).dead()
