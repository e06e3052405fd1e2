"""Request IDs and the Content-Security-Policy on every response, and JSON error envelopes for API paths outside
DRF."""

from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from certctl.api.authentication import staff_teams
from certctl.api.errors import NESTED_TOO_DEEP, body_too_large_message, json_error
from certctl.kernel.teams import REQUEST_ATTRIBUTE as TEAMS_ATTRIBUTE

logger = logging.getLogger(__name__)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
JSON_PATHS = ("/api/", "/.well-known/", "/health", "/ready", "/metrics")


class RequestIDMiddleware:
    """Accept a sane incoming X-Request-ID or make one; echo it on the response."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid.uuid4())
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class ContentSecurityPolicyMiddleware:
    """`Content-Security-Policy: settings.CONTENT_SECURITY_POLICY` on every response that has none.

    Self-only: no page of certctl loads anything from elsewhere or runs inline script (the Swagger UI's start-up
    script is served as a file), so an injected `<script>` or a stray CDN link cannot run. Inline `style`
    attributes stay allowed (Django admin and Swagger UI use them).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class JSONErrorMiddleware:
    """API clients get the JSON envelope for Django-level 404s and for crashes, never an HTML page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(JSON_PATHS)
            and response.status_code in (404, 405)
            and not response.get("Content-Type", "").startswith(("application/json", "application/problem"))
            and not getattr(response, "streaming", False)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            message = "Not found" if response.status_code == 404 else f"Method {request.method} not allowed"
            return json_error(request, response.status_code, message)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A client's fault wherever it happens (OCSP POST, agent registration, an admin form): never a 500.
        if isinstance(exception, RequestDataTooBig):
            return json_error(request, 413, body_too_large_message())
        if isinstance(exception, RecursionError):
            return json_error(request, 400, NESTED_TOO_DEEP)
        if not request.path.startswith(JSON_PATHS):
            return None
        logger.exception("unhandled error", extra={"request_id": getattr(request, "request_id", "")})
        return json_error(request, 500, "Internal server error")


class StaffTeamsMiddleware:
    """In the admin, a staff user bound to teams (Users -> team memberships) sees only those teams' rows: the
    teams go on the request for the console's team-scoped admins (certctl.kernel.teams.TeamScopedAdmin)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        teams = None
        if request.path.startswith("/admin/"):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated and user.is_staff:
                teams = staff_teams(user)
        setattr(request, TEAMS_ATTRIBUTE, teams)
        return self.get_response(request)
