from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from certctl import views as service_views
from certctl.metrics import metrics_json, metrics_view

api_v1 = [
    path("version", service_views.version, name="version"),
    path("auth/check", service_views.auth_check, name="auth-check"),
    path("auth/info", service_views.auth_info, name="auth-info"),
    path("metrics", metrics_json, name="metrics-json"),
    path("metrics/prometheus", metrics_view, name="metrics-prometheus"),
    path("stats/summary", service_views.stats_summary, name="stats-summary"),
    path("stats/certificates-by-status", service_views.stats_certificates_by_status, name="stats-by-status"),
    path(
        "stats/expiration-timeline", service_views.stats_expiration_timeline, name="stats-expiration-timeline"
    ),
    path("stats/job-trends", service_views.stats_job_trends, name="stats-job-trends"),
    path("stats/issuance-rate", service_views.stats_issuance_rate, name="stats-issuance-rate"),
    path("stats/notifications", service_views.stats_notifications, name="stats-notifications"),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    path("", include("certificates.urls")),
    path("", include("notifications.api.urls")),
    path("", include("audit.api.urls")),
]

urlpatterns = [
    # The operator console is the admin; "View site" and a bare host name lead there.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("favicon.ico", service_views.favicon),
    path("health", service_views.health, name="health"),
    path("ready", service_views.ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include(api_v1)),
    path(".well-known/pki/", include("certificates.revocation.urls")),
    path(".well-known/acme-challenge/", include("certificates.issuance.urls")),
    path(
        "api/docs/",
        # The split view serves Swagger UI's start-up script as a file: no inline script under the CSP.
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]
