"""The issuer endpoints: readable with any key; creating, changing and deleting one needs an admin key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from certctl.api.resources import InventoryViewSet
from certctl.api.scopes import ADMIN
from certificates.inventory.models import Issuer
from certificates.issuance.api.serializers import IssuerSerializer


@extend_schema(tags=["issuers"])
class IssuerViewSet(InventoryViewSet):
    """Issuers are readable with any key; creating, changing and deleting one needs an admin key."""

    queryset = Issuer.objects.all()
    serializer_class = IssuerSerializer
    filterset_fields = ["type", "enabled"]

    write_scope = ADMIN
