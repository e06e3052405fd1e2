from django.urls import path

from certctl.api.routers import OptionalSlashRouter
from certificates.api import lifecycle
from certificates.api.jobs import ApprovalViewSet, JobViewSet

router = OptionalSlashRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("approvals", ApprovalViewSet, basename="approval")

# Explicit lifecycle routes go before the router's, so `certificates/bulk-renew` is never read as a detail id.
issuance_urls = [
    path("certificates/bulk-renew", lifecycle.BulkRenewView.as_view(), name="certificate-bulk-renew"),
    path("certificates/<str:pk>/renew", lifecycle.RenewView.as_view(), name="certificate-renew"),
    path("certificates/<str:pk>/issue", lifecycle.IssueView.as_view(), name="certificate-issue"),
    path(
        "certificates/<str:pk>/export/pem", lifecycle.ExportPemView.as_view(), name="certificate-export-pem"
    ),
    path(
        "certificates/<str:pk>/export/pkcs12",
        lifecycle.ExportPkcs12View.as_view(),
        name="certificate-export-pkcs12",
    ),
    path("issuers/<str:pk>/test", lifecycle.IssuerTestView.as_view(), name="issuer-test"),
]

urlpatterns = [*issuance_urls, *router.urls]
