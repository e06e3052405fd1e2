from certctl.api.routers import OptionalSlashRouter
from certificates.api import views
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

urlpatterns = [*router.urls]
