"""The signed one-click acknowledgement link (`/api/v1/notifications/ack/<token>`) in email, Slack and Teams alerts.

A plain Django view, outside DRF: the signed token is the credential (no API key), and whoever holds the message
may acknowledge. GET never acknowledges, because mail scanners and chat unfurlers fetch links: it shows the alert
and a button that POSTs to the same address. CSRF protection is off for this view on purpose: a forged
cross-site POST would need the token, and whoever has the token may acknowledge anyway. An expired link answers
410, a forged or damaged one 400; a used one shows who acknowledged and when.
"""

from __future__ import annotations

from datetime import UTC

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from audit.models import ActorType
from notifications.api.serializers import NotificationSerializer
from notifications.models import NotificationEvent
from notifications.services.acknowledge import LinkExpired, LinkInvalid, acknowledge, event_for_token

NAME_CHARS = 100


class AcknowledgementSerializer(serializers.Serializer):
    """`POST /api/v1/notifications/{id}/ack`: `acknowledged`, or `already_acknowledged` with the first one."""

    status = serializers.ChoiceField(choices=["acknowledged", "already_acknowledged"])
    acknowledged_at = serializers.DateTimeField()
    acknowledged_by = serializers.CharField()
    rows_acknowledged = serializers.IntegerField(help_text="Rows of the incident this call acknowledged")
    notification = NotificationSerializer()


def acknowledgement_body(result) -> dict:
    event = result.event
    return {
        "status": "acknowledged" if result.acknowledged_now else "already_acknowledged",
        "acknowledged_at": event.acknowledged_at,
        "acknowledged_by": event.acknowledged_by,
        "rows_acknowledged": result.rows,
        "notification": NotificationSerializer(event).data,
    }


@csrf_exempt  # the token in the path is the credential; see the module docstring
@require_http_methods(["GET", "POST"])
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        event = event_for_token(token)
    except LinkExpired:
        return _page(request, 410, "Link expired", message=_EXPIRED)
    except LinkInvalid:
        return _page(request, 400, "Invalid link", message=_INVALID)
    if event is None:
        return _page(
            request, 410, "Alert gone", message="This alert no longer exists (its certificate was deleted)."
        )
    if event.acknowledged_at is not None:
        return _page(request, 200, "Already acknowledged", event=event, state="already")
    if request.method == "GET":
        return _page(request, 200, "Acknowledge this alert?", event=event, state="confirm")
    result = acknowledge(event, actor=_actor(request, event), actor_type=ActorType.ANONYMOUS, via="link")
    state = "acknowledged" if result.acknowledged_now else "already"
    return _page(request, 200, "Acknowledged", event=result.event, state=state)


_EXPIRED = (
    "This acknowledgement link has expired. Acknowledge the alert in the certctl admin, or with "
    "POST /api/v1/notifications/{id}/ack."
)
_INVALID = (
    "This acknowledgement link is not valid: it may have been cut off or changed. Use the link as sent."
)


def _actor(request: HttpRequest, event: NotificationEvent) -> str:
    name = " ".join(request.POST.get("name", "").split())[:NAME_CHARS]
    sent_to = event.recipient or event.destination_name or event.channel
    return f"{name} (link sent to {sent_to})" if name else f"link sent to {sent_to}"


def _page(
    request: HttpRequest,
    status: int,
    title: str,
    *,
    event: NotificationEvent | None = None,
    state: str = "message",
    message: str = "",
) -> HttpResponse:
    acknowledged_at = ""
    if event is not None and event.acknowledged_at is not None:
        acknowledged_at = event.acknowledged_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    html = render_to_string(
        "notifications/ack_link.html",
        {
            "title": title,
            "event": event,
            "state": state,
            "message": message,
            "acknowledged_at": acknowledged_at,
        },
        request=request,
    )
    response = HttpResponse(html, status=status)
    # The token is in the address: never cache the page, never send it on as a Referer.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
