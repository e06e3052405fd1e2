from django.urls import re_path

from certctl.api.routers import OptionalSlashRouter
from certificates.api import revocation

router = OptionalSlashRouter()

urlpatterns = [
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
