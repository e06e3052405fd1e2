from django.urls import path

from certificates.revocation import views

urlpatterns = [
    path("crl/<str:issuer_id>", views.crl, name="pki-crl"),
    path("ocsp/<str:issuer_id>", views.ocsp_post, name="pki-ocsp"),
    path("ocsp/<str:issuer_id>/", views.ocsp_post),
    path("ocsp/<str:issuer_id>/<path:encoded>", views.ocsp_get, name="pki-ocsp-get"),
]
