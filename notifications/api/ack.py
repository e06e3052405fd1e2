"""The signed one-click acknowledgement link (`/api/v1/notifications/ack/<token>`) (owner: helper D)."""

from __future__ import annotations

from django.http import HttpResponse


def ack_link(request, token: str) -> HttpResponse:  # placeholder until helper D lands the real one
    return HttpResponse(status=404)
