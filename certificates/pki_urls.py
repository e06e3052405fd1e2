from django.urls import path

from certificates import pki_views

urlpatterns = [
    path("crl/<str:issuer_id>", pki_views.crl, name="pki-crl"),
    path("ocsp/<str:issuer_id>", pki_views.ocsp_post, name="pki-ocsp"),
    path("ocsp/<str:issuer_id>/", pki_views.ocsp_post),
    path("ocsp/<str:issuer_id>/<path:encoded>", pki_views.ocsp_get, name="pki-ocsp-get"),
]
