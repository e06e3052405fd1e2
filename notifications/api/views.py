"""/api/v1/notifications: list and read the outbox, requeue failed/dead rows, mark rows read."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from certctl.api.errors import Conflict
from certctl.api.filtering import FilterSet
from certctl.api.teams import scoped
from notifications.api.ack import AcknowledgementSerializer, acknowledgement_body
from notifications.api.serializers import (
    ActionResultSerializer,
    BulkRequeueResultSerializer,
    BulkRequeueSerializer,
    NotificationSerializer,
)
from notifications.enums import Channel, NotificationStatus, NotificationType
from notifications.models import NotificationEvent
from notifications.services import operator
from notifications.services.acknowledge import acknowledge
from notifications.services.destinations import destination_q
from notifications.services.operator import REQUEUEABLE


class NotificationFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    type = django_filters.ChoiceFilter(choices=NotificationType.choices)
    certificate_id = django_filters.CharFilter(field_name="certificate_id")
    destination_id = django_filters.CharFilter(method="of_destination")

    class Meta:
        model = NotificationEvent
        fields = ["status", "channel", "type", "certificate_id", "destination_id"]

    def of_destination(self, queryset, name, value):
        return queryset.filter(destination_q(value))


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = NotificationEvent.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter

    def get_object(self) -> NotificationEvent:
        event = scoped(self.get_queryset(), self.request).filter(pk=self.kwargs["pk"]).first()
        if event is None:
            raise NotFound("Notification not found")
        return event

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"])
    def requeue(self, request, pk=None):
        """Reset a failed or dead notification to pending with a fresh retry budget (409 otherwise)."""
        return self._transition(operator.requeue, pk, "requeued")

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Acknowledge a sent or dead notification (409 while it is still pending or failed)."""
        return self._transition(operator.mark_read, pk, "marked_as_read")

    @extend_schema(request=None, responses=AcknowledgementSerializer)
    @action(detail=True, methods=["post"])
    def ack(self, request, pk=None):
        """Acknowledge an alert and every alert of its incident, stopping escalation; 200 again when already
        acknowledged, with the first acknowledgement."""
        self.get_object()  # 404 for another team's alert, to a team-bound caller
        try:
            result = acknowledge(pk, **_actor(request), via="api")
        except NotificationEvent.DoesNotExist:
            raise NotFound("Notification not found") from None
        return Response(acknowledgement_body(result))

    @extend_schema(
        request=BulkRequeueSerializer,
        responses=BulkRequeueResultSerializer,
        operation_id="notifications_bulk_requeue",
    )
    @action(detail=False, methods=["post"], url_path="requeue")
    def bulk_requeue(self, request):
        """Requeue every failed/dead notification matching `status`, `channel`, `destination_id` and/or `ids`."""
        body = BulkRequeueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        filters = body.validated_data
        ids = operator.requeue_many(
            **_actor(request),
            statuses=[filters["status"]] if "status" in filters else REQUEUEABLE,
            channel=filters.get("channel"),
            ids=filters.get("ids"),
            destination_id=filters.get("destination_id"),
        )
        return Response({"status": "requeued", "count": len(ids), "ids": ids[:1000]})

    def _transition(self, service, pk: str, label: str) -> Response:
        self.get_object()  # 404 for another team's notification, to a team-bound caller
        try:
            event = service(pk, **_actor(self.request))
        except NotificationEvent.DoesNotExist:
            raise NotFound("Notification not found") from None
        except operator.InvalidTransition as exc:
            raise Conflict(str(exc)) from None
        return Response({"status": label, "notification": NotificationSerializer(event).data})
