"""Viewsets of the reference data: teams, owners, issuers, profiles, renewal policies, targets, agents."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from certctl.api.permissions import IsAdminClient, IsAuthenticatedClient
from certificates.api import serializers as s
from certificates.api.base import InventoryViewSet
from certificates.models import (
    CertificateProfile,
    DeploymentTarget,
    Issuer,
    Owner,
    RenewalPolicy,
    Team,
)


@extend_schema(tags=["teams"])
class TeamViewSet(InventoryViewSet):
    """Teams own certificates. A team that still has owners or certificates cannot be deleted (409)."""

    queryset = Team.objects.all()
    serializer_class = s.TeamSerializer


@extend_schema(tags=["owners"])
class OwnerViewSet(InventoryViewSet):
    """Owners (name, e-mail, team) receive e-mail alerts for their certificates; in use -> delete is 409."""

    queryset = Owner.objects.all()
    serializer_class = s.OwnerSerializer
    filterset_fields = ["team_id"]


@extend_schema(tags=["issuers"])
class IssuerViewSet(InventoryViewSet):
    """Issuers are readable with any key; creating, changing and deleting one needs an admin key."""

    queryset = Issuer.objects.all()
    serializer_class = s.IssuerSerializer
    filterset_fields = ["type", "enabled"]

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [IsAuthenticatedClient()]
        return [IsAuthenticatedClient(), IsAdminClient()]


@extend_schema(tags=["profiles"])
class ProfileViewSet(InventoryViewSet):
    """Certificate profiles: allowed key algorithms, EKUs, SAN patterns, TTL; short-lived means TTL < 1 h."""

    queryset = CertificateProfile.objects.all()
    serializer_class = s.ProfileSerializer


@extend_schema(tags=["renewal-policies"])
class RenewalPolicyViewSet(InventoryViewSet):
    """Renewal policies: renewal window, retries and the alert matrix (thresholds, tiers, channels)."""

    queryset = RenewalPolicy.objects.all()
    serializer_class = s.RenewalPolicySerializer


@extend_schema(tags=["targets"])
class TargetViewSet(InventoryViewSet):
    """Deployment targets (NGINX, Apache, ...) served by one agent; names are unique per agent."""

    queryset = DeploymentTarget.objects.all()
    serializer_class = s.TargetSerializer
    filterset_fields = ["agent_id", "type", "enabled"]
