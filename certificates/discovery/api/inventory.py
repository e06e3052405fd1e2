"""Discovery API: the discovered ("unmanaged") inventory. List with filters, detail with sightings and endpoints,
PATCH owner/team, claim, dismiss, restore; endpoints and their change acknowledgement; the summary.

Reference aliases: /discovered-certificates[...] and /discovery-summary answer the same views.
"""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from certctl.api.errors import Conflict
from certctl.api.filtering import FilterSet
from certctl.api.pagination import PagePagination
from certctl.api.routers import OptionalSlashRouter
from certificates.discovery.api.inventory_serializers import (
    AcknowledgedSerializer,
    AssignSerializer,
    ClaimResponseSerializer,
    ClaimSerializer,
    DiscoveredCertificateDetailSerializer,
    DiscoveredCertificateSerializer,
    DismissSerializer,
    EndpointSerializer,
    SummarySerializer,
)
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoverySighting,
    DiscoveryStatus,
    SightingSource,
)
from certificates.discovery.services import claim as claiming
from certificates.discovery.services import inventory
from certificates.inventory.api.serializers import CertificateSerializer


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


def _sighted(**where) -> Exists:
    return Exists(DiscoverySighting.objects.filter(certificate_id=OuterRef("pk"), **where))


class DiscoveredCertificateFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=DiscoveryStatus.choices)
    issuer = django_filters.CharFilter(
        field_name="issuer_dn", lookup_expr="icontains", label="issuer DN contains"
    )
    expires_before = django_filters.IsoDateTimeFilter(field_name="not_after", lookup_expr="lt")
    expires_after = django_filters.IsoDateTimeFilter(field_name="not_after", lookup_expr="gt")
    endpoint = django_filters.CharFilter(
        method="filter_endpoint", label="seen at an address, SNI, host name or path containing this"
    )
    self_signed = django_filters.BooleanFilter(field_name="is_self_signed")
    weak = django_filters.BooleanFilter(field_name="is_weak")
    agent_id = django_filters.CharFilter(method="filter_agent", label="found by this agent's file scans")
    team_id = django_filters.CharFilter()
    owner_id = django_filters.CharFilter()
    changed = django_filters.BooleanFilter(
        method="filter_changed", label="replaced another certificate at an endpoint (not acknowledged)"
    )
    source = django_filters.ChoiceFilter(choices=SightingSource.choices, method="filter_source")
    search = django_filters.CharFilter(method="filter_search", label="common name or SAN contains")
    sort = django_filters.OrderingFilter(
        fields=[("not_after", "not_after"), ("last_seen_at", "last_seen_at")],
        label="not_after (default) or last_seen_at, - for descending; the id breaks ties",
    )

    class Meta:
        model = DiscoveredCertificate
        fields: list[str] = []

    def filter_endpoint(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        place = (
            Q(endpoint__address__icontains=value)
            | Q(endpoint__sni__icontains=value)
            | Q(endpoint__hostname__icontains=value)
            | Q(endpoint__path__icontains=value)
        )
        return queryset.filter(Exists(DiscoverySighting.objects.filter(place, certificate_id=OuterRef("pk"))))

    def filter_agent(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(_sighted(endpoint__agent_id=value))

    def filter_source(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(_sighted(source=value))

    def filter_changed(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        flagged = Exists(
            DiscoveryEndpoint.objects.filter(
                inventory.changed_endpoints(), current_certificate_id=OuterRef("pk")
            )
        )
        return queryset.filter(flagged) if value else queryset.exclude(flagged)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.annotate(_sans_text=Cast("sans", TextField())).filter(
            Q(common_name__icontains=value) | Q(_sans_text__icontains=value)
        )

    @property
    def qs(self):
        queryset = super().qs
        ordering = self.form.cleaned_data.get("sort") if self.form.is_valid() else None
        if ordering:
            tie_breaker = "-id" if ordering[0].startswith("-") else "id"
            queryset = queryset.order_by(*ordering, tie_breaker)
        return queryset


class EndpointFilter(FilterSet):
    changed = django_filters.BooleanFilter(method="filter_changed", label="changed and not acknowledged")
    kind = django_filters.ChoiceFilter(choices=SightingSource.choices)
    agent_id = django_filters.CharFilter()

    class Meta:
        model = DiscoveryEndpoint
        fields: list[str] = []

    def filter_changed(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        flagged = inventory.changed_endpoints()
        return queryset.filter(flagged) if value else queryset.exclude(flagged)


@extend_schema(tags=["discovery"])
@extend_schema_view(
    partial_update=extend_schema(request=AssignSerializer, responses=DiscoveredCertificateDetailSerializer)
)
class DiscoveredCertificateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Certificates found by scans, agents and imports; sorted by expiry. The private key is never returned."""

    filterset_class = DiscoveredCertificateFilter
    pagination_class = PagePagination
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        queryset = DiscoveredCertificate.objects.defer("encrypted_private_key")
        if self.action == "list":
            return queryset.defer("pem", "chain_pem", "encrypted_private_key")
        return queryset.prefetch_related(
            Prefetch("sightings", queryset=DiscoverySighting.objects.select_related("endpoint")),
            Prefetch("current_at", queryset=DiscoveryEndpoint.objects.order_by("key")),
        )

    def get_serializer_class(self):
        return (
            DiscoveredCertificateSerializer
            if self.action == "list"
            else DiscoveredCertificateDetailSerializer
        )

    def partial_update(self, request, *args, **kwargs):
        """Set the owner and/or team without claiming (expiry alerts route to them)."""
        certificate = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = {name.removesuffix("_id"): value for name, value in body.validated_data.items()}
        inventory.assign(certificate, changes, **_actor(request))
        return Response(DiscoveredCertificateDetailSerializer(self.get_object()).data)

    @extend_schema(
        request=ClaimSerializer,
        responses={
            201: ClaimResponseSerializer,
            200: ClaimResponseSerializer,
            409: OpenApiResponse(description="already managed"),
        },
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def claim(self, request, pk=None):
        """Create a managed certificate from it (owner, team, policy, issuer) or link it to an existing one."""
        certificate = self.get_object()
        body = ClaimSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        new = None
        if "managed_certificate_id" not in data:
            new = claiming.NewManaged(
                owner=data["owner_id"],
                team=data["team_id"],
                renewal_policy=data["renewal_policy_id"],
                issuer=data["issuer_id"],
                name=data.get("name", ""),
                profile=data.get("profile_id"),
                environment=data.get("environment", ""),
                targets=data.get("target_ids", []),
            )
        try:
            claimed = claiming.claim(
                certificate, link_to=data.get("managed_certificate_id"), new=new, **_actor(request)
            )
        except claiming.ClaimConflict as exc:
            raise Conflict(str(exc)) from exc
        payload = {
            **CertificateSerializer(claimed.managed).data,
            "claim": {
                "discovered_certificate_id": certificate.pk,
                "created": claimed.created,
                "private_key_stored": claimed.private_key_stored,
                "endpoints": EndpointSerializer(claimed.endpoints, many=True).data,
            },
        }
        return Response(payload, status=status.HTTP_201_CREATED if claimed.created else status.HTTP_200_OK)

    @extend_schema(request=DismissSerializer, responses=DiscoveredCertificateDetailSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def dismiss(self, request, pk=None):
        """Dismiss with a reason: no alerts, and the certificate says why it is not managed."""
        certificate = self.get_object()
        body = DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            inventory.dismiss(certificate, body.validated_data["reason"], **_actor(request))
        except inventory.DiscoveryStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(DiscoveredCertificateDetailSerializer(self.get_object()).data)

    @extend_schema(request=None, responses=DiscoveredCertificateDetailSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def restore(self, request, pk=None):
        """Undo a dismissal: the certificate is Unmanaged again."""
        certificate = self.get_object()
        try:
            inventory.restore(certificate, **_actor(request))
        except inventory.DiscoveryStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(DiscoveredCertificateDetailSerializer(self.get_object()).data)


@extend_schema(tags=["discovery"])
class EndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Where certificates are served or stored; `changed` ones replaced an earlier certificate."""

    queryset = DiscoveryEndpoint.objects.all()
    serializer_class = EndpointSerializer
    filterset_class = EndpointFilter
    pagination_class = PagePagination

    @extend_schema(request=None, responses=AcknowledgedSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def acknowledge(self, request, pk=None):
        """Clear the changed flag (idempotent: `acknowledged` is false when there was nothing to clear)."""
        endpoint = self.get_object()
        done = inventory.acknowledge_change(endpoint, **_actor(request))
        return Response({"acknowledged": done, "endpoint": EndpointSerializer(endpoint).data})


@extend_schema(tags=["discovery"], responses=SummarySerializer)
class SummaryView(APIView):
    """Counts of the discovered inventory: by status, expiring soon, weak, self-signed, changed endpoints."""

    def get(self, request):
        return Response(SummarySerializer(inventory.summary()).data)


@extend_schema(exclude=True)  # the same operation as /discovery/summary, documented once
class SummaryAliasView(SummaryView):
    """The reference's path for the discovery summary."""


router = OptionalSlashRouter()
router.register("discovery/certificates", DiscoveredCertificateViewSet, basename="discovered-certificate")
router.register(
    "discovered-certificates", DiscoveredCertificateViewSet, basename="discovered-certificate-alias"
)
router.register("discovery/endpoints", EndpointViewSet, basename="discovery-endpoint")

urlpatterns = [
    re_path(r"^discovery/summary/?$", SummaryView.as_view(), name="discovery-summary"),
    re_path(r"^discovery-summary/?$", SummaryAliasView.as_view(), name="discovery-summary-alias"),
    *router.urls,
]
