from django.urls import re_path

from certctl.api.routers import OptionalSlashRouter
from certificates.api.expiry import run_expiry_check

router = OptionalSlashRouter()

urlpatterns = [
    re_path(r"^admin/expiry-check/?$", run_expiry_check, name="admin-expiry-check"),
    *router.urls,
]
