from django.urls import path

from certificates.issuance import views

urlpatterns = [
    path("<str:token>", views.acme_challenge, name="acme-challenge"),
]
