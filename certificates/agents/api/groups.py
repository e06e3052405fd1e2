"""Agent groups under /api/v1/agent-groups: CRUD (PUT is partial; a duplicate name is a 409) and the members."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from certctl.api.pagination import PagePagination
from certctl.api.resources import InventorySerializer, InventoryViewSet
from certctl.api.scopes import ADMIN
from certificates.agents.api.views import AgentSerializer
from certificates.agents.models import AgentGroup
from certificates.agents.services import groups
from certificates.inventory.models import Agent


class AgentGroupSerializer(InventorySerializer):
    member_ids = serializers.PrimaryKeyRelatedField(
        source="explicit_members",
        queryset=Agent.objects.filter(retired_at__isnull=True),
        many=True,
        required=False,
        help_text="explicit members (agent ids); agents matching the criteria are members too",
    )

    class Meta:
        model = AgentGroup
        fields = [
            "id",
            "name",
            "description",
            "match_os",
            "match_architecture",
            "match_cidr",
            "member_ids",
            "enabled",
            "created_at",
            "updated_at",
        ]

    def validate_match_cidr(self, value: str) -> str:
        try:
            return groups.normalised_cidr(value)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"{value!r} is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32"
            ) from exc


@extend_schema(tags=["agent-groups"])
class AgentGroupViewSet(InventoryViewSet):
    """Named sets of agents: explicit members plus every agent matching all the criteria set (OS, architecture,
    address range); a group without criteria has its explicit members only. Used to aim deployments."""

    queryset = AgentGroup.objects.prefetch_related("explicit_members")
    serializer_class = AgentGroupSerializer
    pagination_class = PagePagination
    filter_backends: list = []
    write_scope = ADMIN  # agents are shared configuration, as their registration and retirement

    def perform_create(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        members = fields.pop("explicit_members", [])
        serializer.instance = self._save_with(
            serializer,
            lambda: groups.create_group(fields, explicit_members=members, **self._actor()),
        )

    def perform_update(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        members = fields.pop("explicit_members", None)
        serializer.instance = self._save_with(
            serializer,
            lambda: groups.update_group(
                serializer.instance, fields, explicit_members=members, **self._actor()
            ),
        )

    def destroy(self, request, *args, **kwargs):
        groups.delete_group(self.get_object(), **self._actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _actor(self) -> dict[str, str]:
        return {"actor": self.request.user.name, "actor_type": self.request.user.actor_type}

    @extend_schema(responses=AgentSerializer(many=True), summary="Members now: explicit and matching agents")
    @action(detail=True, methods=["get"], serializer_class=AgentSerializer)
    def members(self, request, pk=None):
        group = self.get_object()
        ids = [agent.pk for agent in groups.members(group)]
        paginator = PagePagination()
        page = paginator.paginate_queryset(
            Agent.objects.filter(pk__in=ids).order_by("name", "id"), request, self
        )
        return paginator.get_paginated_response(AgentSerializer(page, many=True).data)
