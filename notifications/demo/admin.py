"""The Inbox (demo receiver): what `make run`'s demo receiver got, newest first, read-only.

Registered from NotificationsConfig.ready(), so it appears under Notifications in the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import Truncator

from certctl.kernel.admin import ReadOnlyAdmin
from notifications.models import DemoInboxMessage
from notifications.services.demo_inbox import MAX_MESSAGES, receiver_channels

PREVIEW_CHARS = 90


@admin.register(DemoInboxMessage)
class DemoInboxAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "channel", "summary", "preview"]
    list_display_links = ["received_at", "summary"]
    list_filter = ["channel"]
    search_fields = ["summary", "body", "request"]
    date_hierarchy = "received_at"
    ordering = ["-received_at", "-id"]
    list_per_page = 50
    # Not the app's change_list.html: its "Send test notification" link belongs to the notification lists.
    change_list_template = "admin/change_list.html"
    fields = ["received_at", "channel", "request", "summary", "message"]
    readonly_fields = fields

    @admin.display(description="Body")
    def preview(self, message: DemoInboxMessage) -> str:
        return Truncator(" ".join(message.body.split())).chars(PREVIEW_CHARS)

    @admin.display(description="Body")
    def message(self, message: DemoInboxMessage) -> str:
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', message.body)

    def changelist_view(self, request, extra_context=None):
        channels = receiver_channels()
        here = ", ".join(channels) if channels else "no channel: every channel is configured for real"
        subtitle = f"Sent here by make run: {here}. The newest {MAX_MESSAGES} messages are kept."
        return super().changelist_view(request, {**(extra_context or {}), "subtitle": subtitle})
