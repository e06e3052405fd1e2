from django.urls import re_path

from certctl.api.routers import OptionalSlashRouter
from certificates.api import revocation, views
from certificates.api.certificate_views import CertificateViewSet

router = OptionalSlashRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("owners", views.OwnerViewSet, basename="owner")
router.register("issuers", views.IssuerViewSet, basename="issuer")
router.register("profiles", views.ProfileViewSet, basename="profile")
router.register("renewal-policies", views.RenewalPolicyViewSet, basename="renewal-policy")
router.register("certificates", CertificateViewSet, basename="certificate")
router.register("targets", views.TargetViewSet, basename="target")
router.register("agents", views.AgentViewSet, basename="agent")

urlpatterns = [
    # Before the router: "bulk-revoke" would otherwise be read as a certificate ID.
    re_path(
        r"^certificates/bulk-revoke/?$", revocation.BulkRevokeView.as_view(), name="certificate-bulk-revoke"
    ),
    re_path(
        r"^certificates/(?P<pk>[^/.]+)/revoke/?$",
        revocation.RevokeCertificateView.as_view(),
        name="certificate-revoke",
    ),
    *router.urls,
]
