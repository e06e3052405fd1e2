"""Non-API HTTP endpoints of issuance: the HTTP-01 answers an ACME CA fetches while it validates an order."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.http import require_safe

from certificates.issuance.models import AcmeHttpChallenge


@require_safe
def acme_challenge(request: HttpRequest, token: str) -> HttpResponse:
    """`GET /.well-known/acme-challenge/<token>`: the key authorisation of an order in progress (RFC 8555 8.3)."""
    key_authorization = (
        AcmeHttpChallenge.objects.filter(token=token).values_list("key_authorization", flat=True).first()
    )
    if key_authorization is None:
        return HttpResponseNotFound("no such ACME challenge", content_type="text/plain")
    return HttpResponse(key_authorization, content_type="application/octet-stream")
