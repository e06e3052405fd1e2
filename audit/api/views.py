"""`/api/v1/audit`: list with filters and real totals, one event by id, and streaming CSV / JSON Lines export."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from audit.api.serializers import AuditEventSerializer
from audit.models import AuditEvent
from audit.selectors import filtered_events
from audit.services.export import FORMATS, export_lines
from certctl.api.teams import TeamScope, scoped

FILTER_PARAMETERS = [
    OpenApiParameter("actor", str, description="Exact actor (API key name, username, agent id, `system`)"),
    OpenApiParameter("actor_type", str, enum=["User", "System", "Agent", "Anonymous"]),
    OpenApiParameter("action", str, description="Exact action, e.g. `certificate_revoked`, `api_post`"),
    OpenApiParameter("resource_type", str),
    OpenApiParameter("resource_id", str),
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="Inclusive lower bound (ISO-8601)"),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="Exclusive upper bound (ISO-8601)"),
]


class IgnoreFormatParameter(BaseContentNegotiation):
    """The export's `?format=csv|jsonl` names the file format, not a DRF renderer; errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return None


@extend_schema_view(
    list=extend_schema(parameters=FILTER_PARAMETERS, tags=["audit"]),
    retrieve=extend_schema(tags=["audit"]),
)
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.all()
    filter_backends = [TeamScope]

    def get_queryset(self):
        if self.action == "retrieve":
            return AuditEvent.objects.all()
        return filtered_events(self.request.query_params)

    def get_content_negotiator(self):
        # Called before `self.action` is set, so the action is looked up from the route's method map.
        method = getattr(self.request, "method", None) or "get"
        if getattr(self, "action_map", {}).get(method.lower()) == "export":
            return IgnoreFormatParameter()
        return super().get_content_negotiator()

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS), default="jsonl"), *FILTER_PARAMETERS],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR},
        tags=["audit"],
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request):
        fmt = request.query_params.get("format") or "jsonl"
        if fmt not in FORMATS:
            raise ValidationError({"format": [f"must be one of {', '.join(FORMATS)}"]})
        queryset = scoped(filtered_events(request.query_params), request)
        response = StreamingHttpResponse(export_lines(queryset, fmt), content_type=FORMATS[fmt])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
        return response
