"""Operator UI: every notification ("All"), the dead-letter queue, requeue, and a per-channel test send."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from notifications.channels import REGISTRY
from notifications.enums import NotificationStatus
from notifications.models import DeadLetterNotification, NotificationEvent
from notifications.services import operator
from notifications.services.test_send import send_test

ERROR_PREVIEW_CHARS = 60


@admin.action(description="Requeue selected (failed or dead) notifications")
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


class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "type",
        "channel",
        "recipient",
        "status",
        "attempt",
        "error",
        "next_retry_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "type"]
    search_fields = ["id", "recipient", "subject", "certificate__id"]
    date_hierarchy = "created_at"
    actions = [requeue_selected]
    list_per_page = 100
    change_list_template = "admin/notifications/change_list.html"

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

    @admin.display(description="Last error")
    def error(self, event: NotificationEvent) -> str:
        if not event.last_error:
            return "—"
        short = Truncator(event.last_error).chars(ERROR_PREVIEW_CHARS)
        return format_html('<span title="{}">{}</span>', event.last_error, short)

    def get_urls(self):
        opts = self.model._meta
        custom = [
            path(
                "send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name=f"{opts.app_label}_{opts.model_name}_send_test",
            )
        ]
        return custom + super().get_urls()

    def send_test_view(self, request: HttpRequest):
        """A page listing every channel with its state and a "Send test notification" button each."""
        if not self.has_view_permission(request):
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
    list_filter = ["channel", "type"]

    def get_queryset(self, request):
        return super().get_queryset(request).dead()
