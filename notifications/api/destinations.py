"""/api/v1/destinations: list, create, change and delete alert destinations; `POST .../{id}/test` sends one now.

Readable with any key; every write (and a test send) needs an admin key. Secrets are write-only.
"""

from __future__ import annotations

import django_filters
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from certctl.api.errors import Conflict
from certctl.api.filtering import FilterSet
from certctl.api.scopes import ADMIN
from certctl.api.teams import scoped
from certctl.kernel.crypto import DecryptionError
from notifications.api.destination_serializers import (
    DestinationSerializer,
    DestinationTestResultSerializer,
    DestinationTestSerializer,
)
from notifications.enums import DestinationKind, DestinationSource
from notifications.models import Destination
from notifications.services import destinations, test_send


class DestinationFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=DestinationKind.choices)
    source = django_filters.ChoiceFilter(choices=DestinationSource.choices)
    enabled = django_filters.BooleanFilter()
    team_id = django_filters.CharFilter(field_name="team_id")

    class Meta:
        model = Destination
        fields = ["kind", "source", "enabled", "team_id"]


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


@extend_schema(tags=["destinations"])
class DestinationViewSet(viewsets.ModelViewSet):
    """Where alerts go. `secrets` is write-only; environment destinations (`source: environment`) are read-only."""

    queryset = Destination.objects.select_related("team")
    serializer_class = DestinationSerializer
    filterset_class = DestinationFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    write_scope = ADMIN

    def get_object(self) -> Destination:
        destination = scoped(self.get_queryset(), self.request).filter(pk=self.kwargs["pk"]).first()
        if destination is None:
            raise NotFound("Destination not found")
        return destination

    def create(self, request, *args, **kwargs):
        """Create a destination; its settings are checked (a URL refused by the SSRF rules is a 400)."""
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        destination = self._save(fields["name"], destinations.create_destination, **fields, **_actor(request))
        return Response(self.get_serializer(destination).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        """Change a destination: secrets left out keep their value, config keys left out too; `kind` is fixed."""
        destination = self.get_object()
        body = self.get_serializer(destination, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        try:
            destination = self._save(
                fields.get("name", destination.name),
                destinations.update_destination,
                destination,
                **fields,
                **_actor(request),
            )
        except destinations.ReadOnlyDestination as exc:
            raise Conflict(str(exc)) from None
        except DecryptionError as exc:
            raise Conflict(
                f"{exc}; restore the old key in CERTCTL_ENCRYPTION_KEY or send every secret again"
            ) from None
        return Response(self.get_serializer(destination).data)

    def destroy(self, request, *args, **kwargs):
        """Delete a destination no renewal policy names (409 otherwise); its notifications keep its name."""
        destination = self.get_object()
        try:
            destinations.delete_destination(destination, **_actor(request))
        except (destinations.ReadOnlyDestination, destinations.DestinationInUse) as exc:
            raise Conflict(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=DestinationTestSerializer, responses=DestinationTestResultSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test message to the destination now and answer with the outcome (`ok`, `detail`)."""
        destination = self.get_object()
        body = DestinationTestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = test_send.send_test_to_destination(
            destination, **_actor(request), recipient=body.validated_data.get("recipient", "")
        )
        destination.refresh_from_db()
        answer = {
            "ok": result.ok,
            "detail": result.detail,
            "destination_id": destination.pk,
            "last_delivery_at": destination.last_delivery_at,
            "last_delivery_status": destination.last_delivery_status,
        }
        return Response(DestinationTestResultSerializer(answer).data)

    @staticmethod
    def _save(shown_name: str, service, *args, **kwargs) -> Destination:
        try:
            with transaction.atomic():
                return service(*args, **kwargs)
        except IntegrityError:
            raise Conflict(f"a destination named {shown_name!r} already exists") from None
