from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from certctl.api import views as service_views
from certctl.metrics import metrics_view

admin.site.site_header = "certctl"
admin.site.site_title = "certctl"
admin.site.index_title = "Certificate lifecycle"

api_v1 = [
    path("version", service_views.version, name="version"),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    path("", include("certificates.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("audit.api.urls")),
]

urlpatterns = [
    path("health", service_views.health, name="health"),
    path("ready", service_views.ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include(api_v1)),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(
            url_name="schema", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]
