"""/api/v1/destinations: CRUD of alert destinations, write-only secrets, `POST .../{id}/test` (owner: helper B)."""

from __future__ import annotations

from rest_framework import viewsets

from notifications.models import Destination


class DestinationViewSet(viewsets.ReadOnlyModelViewSet):  # placeholder until helper B lands the real one
    queryset = Destination.objects.none()
