"""POST /api/v1/agents/{id}/discoveries: the certificates an agent found in its configured directories."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from certificates.agents.api.views import AgentEndpoint
from certificates.discovery.services import agent_reports


class DiscoveryReportSerializer(serializers.Serializer):
    """The report's outer shape; each item is checked on its own by the service (a bad one is listed, not fatal)."""

    certificates = serializers.ListField(child=serializers.JSONField(), allow_empty=True)
    scanned_dirs = serializers.ListField(
        child=serializers.CharField(max_length=1024, allow_blank=True), required=False, max_length=1000
    )
    errors = serializers.ListField(child=serializers.JSONField(), required=False, max_length=10000)


class DiscoveredFileSerializer(serializers.Serializer):
    """One certificate file as the schema documents it (the service checks each item on its own)."""

    path = serializers.CharField(help_text="Absolute path of the file on the agent's host.")
    pem = serializers.CharField(required=False, help_text="The certificate, PEM (or der_base64).")
    der_base64 = serializers.CharField(required=False, help_text="The certificate, DER in base64 (or pem).")
    chain = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The file's other certificates, PEM."
    )
    key_present = serializers.BooleanField(
        help_text="A private key matching it sits beside it (never the key)."
    )


class DocumentedReportSerializer(DiscoveryReportSerializer):
    certificates = DiscoveredFileSerializer(many=True)
    errors = serializers.ListField(child=serializers.DictField(), required=False)


class DiscoveryReportView(AgentEndpoint):
    """The certificate files an agent found in its discovery directories. Never a private key: only whether a
    matching one exists."""

    @extend_schema(
        tags=["agents"],
        request=DocumentedReportSerializer,
        responses={
            202: inline_serializer(
                "AgentDiscoveryResult",
                {
                    "accepted": serializers.IntegerField(),
                    "new": serializers.IntegerField(),
                    "rejected": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request, agent_id: str):
        agent = self.agent(request, agent_id)
        body = DiscoveryReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        try:
            result = agent_reports.accept_report(
                agent,
                values["certificates"],
                scanned_dirs=values.get("scanned_dirs"),
                errors=values.get("errors"),
            )
        except agent_reports.MalformedReport as exc:
            rejected = exceptions.ParseError(str(exc))
            rejected.error_code = "too_many_items"
            raise rejected from None
        answer = {"accepted": result.accepted, "new": result.new, "rejected": result.rejected}
        return Response(answer, status=status.HTTP_202_ACCEPTED)
