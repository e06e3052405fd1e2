"""Answer ACME HTTP-01 fetches before Django checks the Host header.

A CA fetches `http://<name>/.well-known/acme-challenge/<token>` with the certificate's name as Host. Those names
are not certctl's own, so Django's ALLOWED_HOSTS check (in CommonMiddleware) would answer 400 unless every name
ever issued were listed. The answer is public by design (the CA fetches it anonymously) and builds no URL from
the Host, so this path alone is served without the check; every other path still gets it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from certificates.issuance.views import acme_challenge

PREFIX = "/.well-known/acme-challenge/"


class AcmeChallengeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(PREFIX):
            token = path[len(PREFIX) :]
            if token and "/" not in token:
                return acme_challenge(request, token)
        return self.get_response(request)
