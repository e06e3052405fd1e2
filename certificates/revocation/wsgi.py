"""The OCSP responder's fast path in front of Django: a plain WSGI application for the requests OCSP clients send.

Django's request cycle (16 middleware, URL resolution, the HttpRequest and HttpResponse objects) costs about
twice what answering a cached OCSP request does. OCSP requests need none of it: no session, no user, no CSRF,
no API key, no HTML. So a well-formed OCSP POST or GET with an allowed Host is answered here by the same service
(`ocsp_cache.answer`) with the same per-address limit and the same response headers as the views; anything
else (another path or method, a wrong Content-Type, an oversized body, a bad Host) goes to Django unchanged and
gets the views' answer. certctl.wsgi wraps its application with `with_ocsp_fast_path`.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core import signals
from django.http.request import split_domain_port, validate_host

from certificates.revocation.pki.ocsp import MalformedRequest, decode_get_path, error_response
from certificates.revocation.pki.rate_limit import RETRY_AFTER_SECONDS, limiter
from certificates.revocation.services import ocsp_cache
from certificates.revocation.views import MAX_OCSP_REQUEST, OCSP_RESPONSE_TYPE, ocsp_cache_control

logger = logging.getLogger(__name__)

PREFIX = "/.well-known/pki/ocsp/"


def with_ocsp_fast_path(application):
    """`application` with OCSP requests answered before it (see the module docstring)."""

    def fast_path(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return application(environ, start_response)
        request_der = _request_der(environ, path[len(PREFIX) :])
        if request_der is None:
            return application(environ, start_response)
        issuer_id = path[len(PREFIX) :].partition("/")[0]
        allowed = limiter.allow(environ.get("REMOTE_ADDR", ""))
        # An answer this process remembers needs no database: no request signals (a third of such a request).
        answered = _answer(issuer_id, request_der, allowed, memory_only=True)
        if answered is None:
            signals.request_started.send(sender=with_ocsp_fast_path, environ=environ)
            try:
                answered = _answer(issuer_id, request_der, allowed)
            finally:
                signals.request_finished.send(sender=with_ocsp_fast_path)
        status, headers, body = answered
        start_response(status, headers)
        return [body]

    return fast_path


def _request_der(environ, rest: str) -> bytes | None:
    """The DER request of a well-formed OCSP POST or GET the fast path answers, else None (Django answers)."""
    issuer_id, _, encoded = rest.partition("/")
    if not issuer_id or not _allowed_host(environ):
        return None
    method = environ.get("REQUEST_METHOD")
    if method == "POST" and not encoded:
        content_type = environ.get("CONTENT_TYPE", "")
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if (content_type and "ocsp-request" not in content_type) or not 0 < size <= MAX_OCSP_REQUEST:
            return None
        return environ["wsgi.input"].read(size)
    if method == "GET" and encoded:
        try:
            return decode_get_path(encoded)
        except MalformedRequest:
            return b""  # answered malformedRequest, as the view does
    return None


# Host header -> (the ALLOWED_HOSTS list it was checked against, DEBUG, verdict): clients send the same few hosts,
# and checking one cost a sixth of an answer from memory. A changed setting (a new list) is checked again.
_hosts: dict[str, tuple[list, bool, bool]] = {}


def _allowed_host(environ) -> bool:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    allowed, debug = settings.ALLOWED_HOSTS, settings.DEBUG
    known = _hosts.get(host)
    if known is not None and known[0] is allowed and known[1] == debug:
        return known[2]
    domain, _ = split_domain_port(host)
    patterns = [".localhost", "127.0.0.1", "[::1]"] if debug and not allowed else allowed
    verdict = bool(domain) and validate_host(domain, patterns)
    if len(_hosts) > 1000:  # bounded: a client may send any Host header
        _hosts.clear()
    _hosts[host] = (allowed, debug, verdict)
    return verdict


def _answer(
    issuer_id: str, request_der: bytes, allowed: bool, *, memory_only: bool = False
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    headers = [("Content-Type", OCSP_RESPONSE_TYPE), ("X-Content-Type-Options", "nosniff")]
    headers.append(("X-Request-ID", str(uuid.uuid4())))
    if not allowed:
        body = error_response("unauthorized")
        headers += [("Cache-Control", "no-store"), ("Retry-After", str(RETRY_AFTER_SECONDS))]
    else:
        try:
            result = ocsp_cache.answer(issuer_id, request_der, memory_only=memory_only)
            if result is None:
                return None
            body = result.der
            headers.append(("Cache-Control", ocsp_cache_control(result.next_update)))
        except Exception:  # the database is away: an OCSP error the client understands, not an HTML 500
            logger.exception("OCSP answer failed", extra={"issuer_id": issuer_id})
            body = error_response("internalError")
            headers.append(("Cache-Control", "no-store"))
    headers.append(("Content-Length", str(len(body))))
    return "200 OK", headers, body
