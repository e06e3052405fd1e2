"""The certificates app's routes under /api/v1: each package's views, explicit lifecycle routes before the router's."""

from django.urls import re_path

from certctl.api.routers import OptionalSlashRouter
from certificates.agents.api import agent_urlpatterns
from certificates.compliance.api import urlpatterns as compliance_urls
from certificates.discovery.api import urlpatterns as discovery_urls
from certificates.expiry.api import certificate_alert_routes, run_expiry_check
from certificates.inventory.api import views
from certificates.issuance.api import lifecycle
from certificates.issuance.api.jobs import ApprovalViewSet, JobViewSet
from certificates.issuance.api.views import IssuerViewSet
from certificates.revocation import api as revocation

router = OptionalSlashRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("owners", views.OwnerViewSet, basename="owner")
router.register("issuers", IssuerViewSet, basename="issuer")
router.register("profiles", views.ProfileViewSet, basename="profile")
router.register("renewal-policies", views.RenewalPolicyViewSet, basename="renewal-policy")
router.register("certificates", views.CertificateViewSet, basename="certificate")
router.register("targets", views.TargetViewSet, basename="target")
router.register("jobs", JobViewSet, basename="job")
router.register("approvals", ApprovalViewSet, basename="approval")

ID = r"(?P<pk>[^/]+)"

# Explicit lifecycle routes go before the router's, so `certificates/bulk-renew` is never read as a detail id.
# Like the router's, they take an optional trailing slash.
issuance_urls = [
    re_path(r"^certificates/bulk-renew/?$", lifecycle.BulkRenewView.as_view(), name="certificate-bulk-renew"),
    re_path(rf"^certificates/{ID}/renew/?$", lifecycle.RenewView.as_view(), name="certificate-renew"),
    re_path(rf"^certificates/{ID}/issue/?$", lifecycle.IssueView.as_view(), name="certificate-issue"),
    re_path(
        rf"^certificates/{ID}/export/pem/?$", lifecycle.ExportPemView.as_view(), name="certificate-export-pem"
    ),
    re_path(
        rf"^certificates/{ID}/export/pkcs12/?$",
        lifecycle.ExportPkcs12View.as_view(),
        name="certificate-export-pkcs12",
    ),
    re_path(rf"^issuers/{ID}/test/?$", lifecycle.IssuerTestView.as_view(), name="issuer-test"),
]

# Before the router: "bulk-revoke" would otherwise be read as a certificate ID.
revocation_urls = [
    re_path(
        r"^certificates/bulk-revoke/?$", revocation.BulkRevokeView.as_view(), name="certificate-bulk-revoke"
    ),
    re_path(
        r"^certificates/(?P<pk>[^/.]+)/revoke/?$",
        revocation.RevokeCertificateView.as_view(),
        name="certificate-revoke",
    ),
]

# Agent routes serve GET /agents and /agents/{id} themselves (with the agent-facing actions), so the router has no agents.
admin_urls = [
    re_path(r"^admin/expiry-check/?$", run_expiry_check, name="admin-expiry-check"),
    re_path(
        rf"^certificates/{ID}/alert-routes/?$", certificate_alert_routes, name="certificate-alert-routes"
    ),
]

urlpatterns = [
    *issuance_urls,
    *revocation_urls,
    *agent_urlpatterns,
    *admin_urls,
    *discovery_urls,
    *compliance_urls,
    *router.urls,
]
