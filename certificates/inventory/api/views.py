"""The inventory endpoints: certificates (list with filters, keyset or page paging, CRUD, versions), teams, owners,
profiles, renewal policies and targets."""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, Prefetch
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from certctl.api.pagination import KeysetPagination, PagePagination
from certctl.api.resources import InventoryViewSet
from certctl.api.scopes import ADMIN
from certctl.api.teams import caller_teams, require_visible
from certificates.enums import CertificateSource
from certificates.inventory import counts
from certificates.inventory.api.filters import CertificateFilter, CertificateFilterBackend
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
from certificates.inventory.services import profiles


def _target_ids():
    """A certificate's target ids, ordered as the targets are (by name)."""
    return (
        ManagedCertificate.targets.through.objects.filter(managedcertificate_id=OuterRef("pk"))
        .order_by("deploymenttarget__name", "deploymenttarget_id")
        .values("deploymenttarget_id")
    )


def _read_target_ids(page: list[ManagedCertificate]) -> None:
    """Every certificate's target ids in one query, ordered as the targets are (by name), for the serializer."""
    by_certificate: dict[str, list[str]] = {certificate.pk: [] for certificate in page}
    mappings = (
        ManagedCertificate.targets.through.objects.filter(managedcertificate_id__in=list(by_certificate))
        .order_by("deploymenttarget__name", "deploymenttarget_id")
        .values_list("managedcertificate_id", "deploymenttarget_id")
    )
    for certificate_id, target_id in mappings:
        by_certificate[certificate_id].append(target_id)
    for certificate in page:
        certificate.target_ids_on_page = by_certificate[certificate.pk]


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


# The certificate-list filters whose totals the counters keep (certificates.inventory.counts.total).
COUNTED_FILTERS = {"team_id", "environment", "status", "expires_before", "expires_after"}

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

    filter_backends = [CertificateFilterBackend]

    def get_queryset(self):
        if self.action == "list":
            if connection.vendor == "postgresql":  # the page's target ids in the page's own query
                return ManagedCertificate.objects.annotate(target_ids_on_page=ArraySubquery(_target_ids()))
            return ManagedCertificate.objects.all()  # target ids: one query per page (paginate_queryset)
        return ManagedCertificate.objects.prefetch_related(
            Prefetch("targets", queryset=DeploymentTarget.objects.only("id"))
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if self.action == "list" and page and connection.vendor != "postgresql":
            _read_target_ids(page)
        return page

    def exact_total(self, queryset) -> int | None:
        """The list's `total` from the counters the database keeps, when its filters are ones they can answer
        (certificates.inventory.counts); None: the paginator counts rows."""
        filterset = getattr(self, "filterset", None)
        if self.action != "list" or filterset is None or not filterset.is_valid():
            return None
        given = {
            k: v for k, v in filterset.form.cleaned_data.items() if v not in EMPTY_VALUES and k != "sort"
        }
        if not given.keys() <= COUNTED_FILTERS:
            return None
        return counts.total(teams=caller_teams(self.request), **given)

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

    # GET …/{id}/deployments (targets with their latest deployment) is served by certificates.agents.api.

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
        body = BulkReassignSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        require_visible(
            request,
            ManagedCertificate.objects.all(),
            body.validated_data["certificate_ids"],
            "certificate_ids",
        )
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
    write_scope = ADMIN


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
    write_scope = ADMIN  # a profile is security policy: key sizes, validity, SAN caps, approval

    def _save(self, serializer) -> None:
        def change() -> CertificateProfile:
            profile = serializer.instance or CertificateProfile()
            for name, value in serializer.validated_data.items():
                setattr(profile, name, value)
            return profiles.save_profile(profile, **_actor(self.request))

        serializer.instance = self._save_with(serializer, change)


@extend_schema(tags=["renewal-policies"])
class RenewalPolicyViewSet(InventoryViewSet):
    """Renewal policies: renewal window, retries and the alert matrix (thresholds, tiers, channels)."""

    queryset = RenewalPolicy.objects.all()
    serializer_class = RenewalPolicySerializer
    write_scope = ADMIN  # thresholds and alert routing


@extend_schema(tags=["targets"])
class TargetViewSet(InventoryViewSet):
    """Deployment targets (NGINX, Apache, ...) served by one agent; names are unique per agent."""

    queryset = DeploymentTarget.objects.all()
    serializer_class = TargetSerializer
    filterset_fields = ["agent_id", "type", "enabled"]
