"""Network scan endpoints: profiles (CRUD, `scan` now), runs (start ad hoc or from a profile, progress, cancel,
resume). Reference aliases: /network-scan-targets for profiles, GET /discovery-scans for the run list."""

from __future__ import annotations

import django_filters
from django.db.models import ProtectedError
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from certctl.api.errors import Conflict
from certctl.api.filtering import FilterSet
from certctl.api.resources import InventoryViewSet
from certctl.api.scopes import ADMIN, WRITE
from certctl.api.teams import scoped
from certificates.discovery.api.scan_serializers import (
    AdhocScanSerializer,
    ScanProfileSerializer,
    ScanRunSerializer,
)
from certificates.discovery.models import ScanProfile, ScanRun, ScanRunStatus
from certificates.discovery.services import scans
from certificates.discovery.services.targets import TargetError


class ScanRunFilter(FilterSet):
    profile_id = django_filters.CharFilter(field_name="profile_id")
    status = django_filters.ChoiceFilter(choices=ScanRunStatus.choices)

    class Meta:
        model = ScanRun
        fields = ["profile_id", "status"]


def _started(run) -> Response:
    run.refresh_from_db()  # in eager mode the chunks ran already
    return Response(ScanRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["discovery"])
class ScanProfileViewSet(InventoryViewSet):
    """What network scans contact: targets (host:port, host, sni@address:port, IPv4 CIDR up to /16, IPv6
    addresses), ports, schedule, concurrency and timeout. Only these targets are ever contacted."""

    queryset = ScanProfile.objects.all()
    serializer_class = ScanProfileSerializer
    # What the server probes on the network is configuration (admin); running an existing profile is not.
    write_scope = ADMIN
    action_scopes = {"scan": WRITE}

    def get_object(self) -> ScanProfile:
        profile = scoped(self.get_queryset(), self.request).filter(pk=self.kwargs["pk"]).first()
        if profile is None:
            raise NotFound("Scan profile not found")
        return profile

    def perform_destroy(self, instance) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:  # pragma: no cover - runs keep their profile name (SET_NULL)
            raise Conflict(str(exc)) from None

    @extend_schema(request=None, responses={202: ScanRunSerializer})
    @action(detail=True, methods=["post"])
    def scan(self, request, pk=None):
        """Start a run of this profile now (202 with the run); 409 when one is already active."""
        profile = self.get_object()
        try:
            run = scans.start_profile_run(profile, requested_by=request.user.name)
        except scans.ScanStateError as exc:
            raise Conflict(str(exc)) from None
        except TargetError as exc:  # stored before the checks tightened: fix the profile
            raise ValidationError(exc.fields) from None
        return _started(run)


@extend_schema(tags=["discovery"])
class ScanRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scan runs and their progress (targets done / total, found, new certificates, errors, chunks)."""

    queryset = ScanRun.objects.all()
    serializer_class = ScanRunSerializer
    filterset_class = ScanRunFilter
    # Starting a run here may name any targets (ad hoc): admin, as profiles; stopping and resuming one is not.
    write_scope = ADMIN
    action_scopes = {"cancel": WRITE, "resume": WRITE}

    def get_object(self) -> ScanRun:
        run = scoped(self.get_queryset(), self.request).filter(pk=self.kwargs["pk"]).first()
        if run is None:
            raise NotFound("Scan run not found")
        return run

    @extend_schema(request=AdhocScanSerializer, responses={202: ScanRunSerializer})
    def create(self, request, *args, **kwargs):
        """Start a run of a profile (`profile_id`) or of the targets given (ad hoc); 202 with the run."""
        body = AdhocScanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = body.validated_data
        try:
            if fields.get("profile_id"):
                profile = ScanProfile.objects.filter(pk=fields["profile_id"]).first()
                if profile is None:
                    raise NotFound("Scan profile not found")
                run = scans.start_profile_run(profile, requested_by=request.user.name)
            else:
                settings = scans.ScanSettings(
                    fields["timeout_ms"], fields["concurrency"], fields["chunk_size"]
                )
                run = scans.start_adhoc_run(
                    fields["targets"], fields.get("ports"), settings, requested_by=request.user.name
                )
        except scans.ScanStateError as exc:
            raise Conflict(str(exc)) from None
        except TargetError as exc:
            raise ValidationError(exc.fields) from None
        return _started(run)

    @extend_schema(request=None, responses=ScanRunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or running run (idempotent); 409 for a finished one."""
        try:
            run = scans.cancel_run(self.get_object(), actor=request.user.name)
        except scans.ScanStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(ScanRunSerializer(run).data)

    @extend_schema(request=None, responses={202: ScanRunSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Resume a cancelled, failed or stalled run: its unfinished chunks are dispatched again."""
        try:
            run = scans.resume_run(self.get_object(), actor=request.user.name)
        except scans.ScanStateError as exc:
            raise Conflict(str(exc)) from None
        return _started(run)


@extend_schema(exclude=True)
class ScanProfileAliasViewSet(ScanProfileViewSet):
    """/network-scan-targets: the reference's name for scan profiles."""


@extend_schema(exclude=True)
class ScanRunAliasViewSet(ScanRunViewSet):
    """GET /discovery-scans: the reference's run list."""


ID = r"(?P<pk>[^/]+)"
COLLECTION = {"get": "list", "post": "create"}
MEMBER = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}


def _profile_routes(prefix: str, views: type[ScanProfileViewSet], name: str) -> list:
    return [
        re_path(rf"^{prefix}/?$", views.as_view(COLLECTION), name=f"{name}-list"),
        re_path(rf"^{prefix}/{ID}/scan/?$", views.as_view({"post": "scan"}), name=f"{name}-scan"),
        re_path(rf"^{prefix}/{ID}/?$", views.as_view(MEMBER), name=f"{name}-detail"),
    ]


urlpatterns = [
    *_profile_routes("discovery/profiles", ScanProfileViewSet, "discovery-profile"),
    *_profile_routes("network-scan-targets", ScanProfileAliasViewSet, "network-scan-target"),
    re_path(r"^discovery/scans/?$", ScanRunViewSet.as_view(COLLECTION), name="discovery-scan-list"),
    re_path(
        rf"^discovery/scans/{ID}/cancel/?$",
        ScanRunViewSet.as_view({"post": "cancel"}),
        name="discovery-scan-cancel",
    ),
    re_path(
        rf"^discovery/scans/{ID}/resume/?$",
        ScanRunViewSet.as_view({"post": "resume"}),
        name="discovery-scan-resume",
    ),
    re_path(
        rf"^discovery/scans/{ID}/?$",
        ScanRunViewSet.as_view({"get": "retrieve"}),
        name="discovery-scan-detail",
    ),
    re_path(
        r"^discovery-scans/?$", ScanRunAliasViewSet.as_view({"get": "list"}), name="discovery-scans-alias"
    ),
]
