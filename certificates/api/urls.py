from django.urls import re_path

from certctl.api.routers import OptionalSlashRouter
from certificates.api import lifecycle
from certificates.api.agents import agent_urlpatterns
from certificates.api.jobs import ApprovalViewSet, JobViewSet

router = OptionalSlashRouter()
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

urlpatterns = [*issuance_urls, *agent_urlpatterns, *router.urls]
