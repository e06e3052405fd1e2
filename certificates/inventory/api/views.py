"""The inventory endpoints: certificates (list with filters, keyset or page paging, CRUD, versions), teams, owners,
profiles, renewal policies and targets."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from certctl.api.pagination import KeysetPagination, PagePagination
from certctl.api.resources import InventoryViewSet
from certificates.enums import CertificateSource
from certificates.inventory.api.filters import CertificateFilter
from certificates.inventory.api.serializers import (
    BulkReassignResultSerializer,
    BulkReassignSerializer,
    CertificateSerializer,
    CertificateVersionSerializer,
    OwnerSerializer,
    ProfileSerializer,
    RenewalPolicySerializer,
    TargetSerializer,
    TeamSerializer,
)
from certificates.inventory.models import (
    CertificateProfile,
    DeploymentTarget,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)
from certificates.inventory.services import certificates as inventory


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


SPARSE_FIELDS = OpenApiParameter(
    "fields", str, description="comma-separated keys to return, e.g. id,name,expires_at"
)


@extend_schema(tags=["certificates"])
@extend_schema_view(
    list=extend_schema(parameters=[SPARSE_FIELDS]), retrieve=extend_schema(parameters=[SPARSE_FIELDS])
)
class CertificateViewSet(InventoryViewSet):
    """Managed certificates. DELETE archives (status Archived) instead of deleting."""

    serializer_class = CertificateSerializer
    filterset_class = CertificateFilter
    pagination_class = KeysetPagination

    def get_queryset(self):
        return ManagedCertificate.objects.prefetch_related(
            Prefetch("targets", queryset=DeploymentTarget.objects.only("id"))
        )

    def list(self, request, *args, **kwargs):
        cursor_mode = "cursor" in request.query_params or "page_size" in request.query_params
        if cursor_mode and "sort" in request.query_params:
            raise ValidationError({"sort": ["cursor paging has a fixed order (newest first); drop `sort`"]})
        if "fields" in request.query_params:
            self.get_serializer().fields  # noqa: B018 - checks `fields` even when the page is empty
        return super().list(request, *args, **kwargs)

    def _split(self, serializer) -> tuple[dict, list | None]:
        fields = dict(serializer.validated_data)
        return fields, fields.pop("targets", None)

    def perform_create(self, serializer) -> None:
        fields, targets = self._split(serializer)
        fields["source"] = CertificateSource.API
        serializer.instance = self._guarded(
            serializer, lambda: inventory.create_certificate(fields, targets=targets, **_actor(self.request))
        )

    def perform_update(self, serializer) -> None:
        fields, targets = self._split(serializer)
        serializer.instance = self._guarded(
            serializer,
            lambda: inventory.update_certificate(
                serializer.instance, fields, targets=targets, **_actor(self.request)
            ),
        )

    def _guarded(self, serializer, change):
        try:
            return self._save_with(serializer, change)
        except inventory.InventoryError as exc:
            raise ValidationError({"status": [str(exc)]}) from exc

    def destroy(self, request, *args, **kwargs):
        inventory.archive_certificate(self.get_object(), **_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=CertificateVersionSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        serializer_class=CertificateVersionSerializer,
        pagination_class=PagePagination,
        filterset_class=None,
    )
    def versions(self, request, pk=None):
        certificate = self.get_object()
        page = self.paginate_queryset(certificate.versions.all())
        return self.get_paginated_response(CertificateVersionSerializer(page, many=True).data)

    @extend_schema(responses=TargetSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        serializer_class=TargetSerializer,
        pagination_class=PagePagination,
        filterset_class=None,
    )
    def deployments(self, request, pk=None):
        """The deployment targets this certificate maps to."""
        certificate = self.get_object()
        page = self.paginate_queryset(certificate.targets.order_by("name", "id"))
        return self.get_paginated_response(TargetSerializer(page, many=True).data)

    @extend_schema(request=BulkReassignSerializer, responses=BulkReassignResultSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="bulk-reassign",
        serializer_class=BulkReassignSerializer,
        filterset_class=None,
    )
    def bulk_reassign(self, request):
        """Give many certificates a new owner (and team); all or nothing."""
        body = BulkReassignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            count = inventory.reassign_certificates(
                body.validated_data["certificate_ids"],
                body.validated_data["owner_id"],
                team=body.validated_data.get("team_id"),
                **_actor(request),
            )
        except inventory.InventoryError as exc:
            raise ValidationError({"certificate_ids": [str(exc)]}) from exc
        return Response({"reassigned": count})


@extend_schema(tags=["teams"])
class TeamViewSet(InventoryViewSet):
    """Teams own certificates. A team that still has owners or certificates cannot be deleted (409)."""

    queryset = Team.objects.all()
    serializer_class = TeamSerializer


@extend_schema(tags=["owners"])
class OwnerViewSet(InventoryViewSet):
    """Owners (name, e-mail, team) receive e-mail alerts for their certificates; in use -> delete is 409."""

    queryset = Owner.objects.all()
    serializer_class = OwnerSerializer
    filterset_fields = ["team_id"]


@extend_schema(tags=["profiles"])
class ProfileViewSet(InventoryViewSet):
    """Certificate profiles: allowed key algorithms, EKUs, SAN patterns, TTL; short-lived means TTL < 1 h."""

    queryset = CertificateProfile.objects.all()
    serializer_class = ProfileSerializer


@extend_schema(tags=["renewal-policies"])
class RenewalPolicyViewSet(InventoryViewSet):
    """Renewal policies: renewal window, retries and the alert matrix (thresholds, tiers, channels)."""

    queryset = RenewalPolicy.objects.all()
    serializer_class = RenewalPolicySerializer


@extend_schema(tags=["targets"])
class TargetViewSet(InventoryViewSet):
    """Deployment targets (NGINX, Apache, ...) served by one agent; names are unique per agent."""

    queryset = DeploymentTarget.objects.all()
    serializer_class = TargetSerializer
    filterset_fields = ["agent_id", "type", "enabled"]
