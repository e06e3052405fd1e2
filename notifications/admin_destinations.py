"""Operator UI for destinations: each kind's settings (secrets write-only), "Send test", the last delivery outcome,
requeue of a destination's failed and dead notifications; the environment's destinations read-only.

Every change goes through notifications.services.destinations, as the API's do.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from certctl.kernel.admin import may_operate
from certctl.kernel.crypto import DecryptionError
from notifications.channels import targets
from notifications.enums import DestinationKind
from notifications.forms import MODEL_FIELDS, DestinationForm, settings_field_names, stored_secret_names
from notifications.models import Destination
from notifications.services import destinations, operator, test_send


def _actor(request: HttpRequest) -> dict[str, str]:
    return {"actor": request.user.get_username(), "actor_type": "User"}


class DestinationListFilter(admin.SimpleListFilter):
    """The notification lists by destination (a built-in one includes the rows that named only its channel)."""

    title = "destination"
    parameter_name = "destination_id"

    def lookups(self, request, model_admin):
        return list(Destination.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(destinations.destination_q(value)) if value else queryset


@admin.action(description="Send a test message to the selected destinations", permissions=["change"])
def send_test_selected(modeladmin, request: HttpRequest, queryset) -> None:
    for destination in queryset:
        modeladmin.send_test_and_report(request, destination)


@admin.action(
    description="Requeue the failed and dead notifications of the selected destinations",
    permissions=["change"],
)
def requeue_destinations(modeladmin, request: HttpRequest, queryset) -> None:
    total = 0
    for destination in queryset:
        total += len(operator.requeue_many(destination_id=destination.pk, **_actor(request)))
    modeladmin.message_user(request, f"Requeued {total} notification(s).", messages.SUCCESS)


def _set_enabled(modeladmin, request: HttpRequest, queryset, enabled: bool) -> None:
    changed, skipped = 0, 0
    for destination in queryset:
        if destination.from_environment:
            skipped += 1
            continue
        destinations.set_enabled(destination, enabled, **_actor(request))
        changed += 1
    modeladmin.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {changed} destination(s).")
    if skipped:
        modeladmin.message_user(
            request, f"Skipped {skipped} set by environment variables (read-only).", messages.WARNING
        )


@admin.action(description="Enable the selected destinations", permissions=["change"])
def enable_selected(modeladmin, request, queryset) -> None:
    _set_enabled(modeladmin, request, queryset, True)


@admin.action(description="Disable the selected destinations", permissions=["change"])
def disable_selected(modeladmin, request, queryset) -> None:
    _set_enabled(modeladmin, request, queryset, False)


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    form = DestinationForm
    list_display = ["name", "kind", "team", "enabled", "origin", "tier_list", "is_default", "last_delivery"]
    list_filter = ["kind", "source", "enabled", "is_default", "team"]
    list_select_related = ["team"]
    search_fields = ["name", "id"]
    autocomplete_fields = ["team"]
    actions = [send_test_selected, requeue_destinations, enable_selected, disable_selected]
    change_list_template = "admin/change_list.html"  # not the app's: its "Send test" link is the channels'
    change_form_template = "admin/notifications/destination/change_form.html"
    STATUS_FIELDS = ["configured", "last_delivery", "notification_links"]

    # -- pages ---------------------------------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.from_environment:
            return [
                (None, {"fields": ["name", "kind", "origin", "environment_settings", "enabled"]}),
                ("Delivery", {"fields": self.STATUS_FIELDS}),
            ]
        head = (None, {"fields": MODEL_FIELDS})
        if obj is None:
            kinds = [
                (
                    f"{label} settings",
                    {
                        "fields": settings_field_names(kind),
                        "description": f"Used when the kind is {label}.",
                        "classes": ["collapse"],
                    },
                )
                for kind, label in DestinationKind.choices
            ]
            return [head, *kinds]
        settings_set = (
            f"{obj.get_kind_display()} settings",
            {"fields": settings_field_names(obj.kind, stored_secret_names(obj))},
        )
        return [head, settings_set, ("Delivery", {"fields": self.STATUS_FIELDS})]

    def get_readonly_fields(self, request, obj=None):
        return ["origin", "environment_settings", *self.STATUS_FIELDS]

    def get_form(self, request, obj=None, change=False, **kwargs):
        wanted = kwargs.get("fields") or flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [name for name in wanted if name in MODEL_FIELDS]
        return super().get_form(request, obj, change, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not (obj and obj.from_environment)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.from_environment)

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # deletion goes through the service, one at a time
        return found

    def save_model(self, request, obj: Destination, form: DestinationForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("enabled", "team", "tiers", "is_default")}
        if change:
            saved = destinations.update_destination(
                Destination.objects.get(pk=obj.pk),
                name=form.cleaned_data["name"],
                config=form.config,
                secrets=form.secrets,
                **fields,
                **_actor(request),
            )
        else:
            saved = destinations.create_destination(
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                config=form.config,
                secrets=form.secrets,
                **fields,
                **_actor(request),
            )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_view(self, request, object_id, extra_context=None):
        destination = self.get_object(request, object_id)
        if destination is not None and not destination.from_environment:
            policies = destinations.referencing_policies(destination)
            if policies:
                self.message_user(
                    request, str(destinations.DestinationInUse(destination, policies)), messages.ERROR
                )
                return HttpResponseRedirect(self._change_url(destination))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj: Destination) -> None:
        destinations.delete_destination(obj, **_actor(request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        destination = self.get_object(request, object_id)
        context = {**(extra_context or {})}
        if destination is not None and self.has_view_permission(request, destination):
            context["send_test_url"] = reverse(
                "admin:notifications_destination_send_test", args=[destination.pk]
            )
            context["wants_recipient"] = destination.kind == DestinationKind.EMAIL and not (
                destination.config or {}
            ).get("recipients")
            context["default_recipient"] = request.user.email
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self):
        send_test = self.admin_site.admin_view(self.send_test_view)
        custom = [path("<path:object_id>/send-test/", send_test, name="notifications_destination_send_test")]
        return custom + super().get_urls()

    def send_test_view(self, request: HttpRequest, object_id: str):
        """POST only: send a test message to this destination now, then back to its page with the outcome."""
        destination = self.get_object(request, object_id)
        if destination is None:
            raise Http404("no such destination")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_operate(self, request):  # also for the read-only environment destinations
            raise PermissionDenied
        self.send_test_and_report(request, destination, request.POST.get("recipient", "").strip())
        return HttpResponseRedirect(self._change_url(destination))

    def send_test_and_report(
        self, request: HttpRequest, destination: Destination, recipient: str = ""
    ) -> None:
        result = test_send.send_test_to_destination(destination, **_actor(request), recipient=recipient)
        level = messages.SUCCESS if result.ok else messages.ERROR
        self.message_user(request, f"{destination.name}: {result.detail}", level)

    def _change_url(self, destination: Destination) -> str:
        return reverse("admin:notifications_destination_change", args=[destination.pk])

    # -- columns and read-only fields ------------------------------------------------------------------------
    @admin.display(description="Source", ordering="source")
    def origin(self, destination: Destination) -> str:
        return destination.get_source_display()

    @admin.display(description="Tiers")
    def tier_list(self, destination: Destination) -> str:
        return ", ".join(destination.tiers or []) or "all"

    @admin.display(description="Last delivery", ordering="last_delivery_at")
    def last_delivery(self, destination: Destination) -> str:
        if destination.last_delivery_at is None:
            return "—"
        return format_html(
            '<span title="{}">{} at {} UTC</span>',
            destination.last_delivery_error,
            destination.last_delivery_status or "?",
            destination.last_delivery_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )

    @admin.display(description="Configured", boolean=True)
    def configured(self, destination: Destination) -> bool | None:
        try:
            return destinations.is_configured(targets.target_for(destination))
        except DecryptionError:
            return False

    @admin.display(description="Settings (from the CERTCTL_* variables)")
    def environment_settings(self, destination: Destination) -> str:
        target = targets.target_for(destination)
        shown = [(name, value) for name, value in target.config.items() if value not in ("", None, [])]
        host = targets.url_host(target)
        for name, value in target.secrets.items():
            if value:
                shown.append((name, f"set (host {host})" if name in targets.URL_SECRETS else "set"))
        if not shown:
            return "nothing set"
        return format_html_join("", "<div><code>{}</code>: {}</div>", shown)

    @admin.display(description="Notifications")
    def notification_links(self, destination: Destination) -> str:
        query = f"?destination_id={destination.pk}"
        return format_html(
            '<a href="{}{}">all</a> · <a href="{}{}">dead letter</a>',
            reverse("admin:notifications_notificationevent_changelist"),
            query,
            reverse("admin:notifications_deadletternotification_changelist"),
            query,
        )
