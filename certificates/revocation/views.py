"""Unauthenticated PKI endpoints: the DER CRL and the OCSP responder of each issuer (plain Django views: fast,
binary, no API key, no CSRF)."""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from certctl.api.errors import json_error
from certificates.revocation.pki.crl import der_to_pem
from certificates.revocation.pki.ocsp import MalformedRequest, decode_get_path, error_response
from certificates.revocation.pki.rate_limit import RETRY_AFTER_SECONDS, limiter
from certificates.revocation.services import crl as crl_cache
from certificates.revocation.services import ocsp_cache

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
MAX_OCSP_REQUEST = 16 * 1024


@require_GET
def crl(request: HttpRequest, issuer_id: str) -> HttpResponse:
    """The issuer's CRL (DER, or PEM with ?format=pem), cacheable until its nextUpdate."""
    fmt = request.GET.get("format", "der").lower()
    if fmt not in {"der", "pem"}:
        return json_error(request, 400, "format must be der or pem")
    now = timezone.now()
    try:
        cached = crl_cache.current_crl(issuer_id, now)
    except crl_cache.IssuerNotFound:
        return json_error(request, 404, f"issuer {issuer_id} not found")
    except crl_cache.CRLNotSupported as exc:
        return json_error(request, 501, str(exc))

    etag = cached.etag if fmt == "der" else cached.etag[:-1] + '-pem"'
    max_age = max(0, math.floor((cached.next_update - now).total_seconds()))
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}, must-revalidate",
        "Last-Modified": http_date(cached.this_update.timestamp()),
        "Expires": http_date(cached.next_update.timestamp()),
    }
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return HttpResponse(status=304, headers=headers)
    der = bytes(cached.crl_der)
    if fmt == "pem":
        return HttpResponse(der_to_pem(der), content_type="application/x-pem-file", headers=headers)
    return HttpResponse(der, content_type="application/pkix-crl", headers=headers)


@csrf_exempt
@require_http_methods(["POST"])
def ocsp_post(request: HttpRequest, issuer_id: str) -> HttpResponse:
    """RFC 6960 POST: the body is the DER OCSPRequest."""
    if not limiter.allow(request.META.get("REMOTE_ADDR", "")):
        return _rate_limited()
    content_type = request.headers.get("Content-Type", "")
    if content_type and "ocsp-request" not in content_type:
        return json_error(request, 415, f"Content-Type must be {OCSP_REQUEST_TYPE}")
    if len(request.body) > MAX_OCSP_REQUEST:
        return _ocsp_response(error_response("malformedRequest"), None)
    return _answer(issuer_id, request.body)


@require_GET
def ocsp_get(request: HttpRequest, issuer_id: str, encoded: str) -> HttpResponse:
    """RFC 6960 appendix A.1 GET: the path ends with the URL-encoded base64 of the DER OCSPRequest."""
    if not limiter.allow(request.META.get("REMOTE_ADDR", "")):
        return _rate_limited()
    try:
        der = decode_get_path(encoded)
    except MalformedRequest:
        return _answer(issuer_id, b"")
    return _answer(issuer_id, der)


def _answer(issuer_id: str, der: bytes) -> HttpResponse:
    result = ocsp_cache.answer(issuer_id, der)
    return _ocsp_response(result.der, result.next_update)


def _rate_limited() -> HttpResponse:
    """Over the per-address limit: the OCSP `unauthorized` response (HTTP 200, as OCSP clients expect)."""
    response = _ocsp_response(error_response("unauthorized"), None)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _ocsp_response(der: bytes, next_update) -> HttpResponse:
    response = HttpResponse(der, content_type=OCSP_RESPONSE_TYPE)
    response["Cache-Control"] = ocsp_cache_control(next_update)
    return response


def ocsp_cache_control(next_update) -> str:
    """HTTP caching of an OCSP answer: until its nextUpdate, or not at all (errors, nonced answers)."""
    if next_update is None:
        return "no-store"
    max_age = max(0, math.floor((next_update - timezone.now()).total_seconds()))
    return f"public, max-age={max_age}, no-transform, must-revalidate"
