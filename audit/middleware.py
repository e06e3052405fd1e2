"""Records every `/api/v1/*` request and every state-changing admin request in the audit trail."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

from audit.models import ActorType
from audit.services.api_calls import (
    ANONYMOUS,
    ApiCall,
    actor_of_bearer,
    body_hash,
    is_audited,
    record_api_call,
)
from certctl.api.principal import Principal

logger = logging.getLogger(__name__)


def _actor(request: HttpRequest) -> tuple[str, str]:
    # DRF sets the authenticated Principal on the Django request too; the admin has the Django user.
    user = getattr(request, "user", None)
    if isinstance(user, Principal):
        if user.kind == "agent":
            return user.object_id or user.name, ActorType.AGENT
        return user.name, user.actor_type
    if user is not None and getattr(user, "is_authenticated", False):
        return user.get_username(), ActorType.USER
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        name = actor_of_bearer(token.strip())
        if name:
            return name, ActorType.USER
    return ANONYMOUS, ActorType.ANONYMOUS


def _body_hash(request: HttpRequest) -> str:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return ""  # over the body limit (multipart included): refused by the view, not buffered here
    try:
        return body_hash(request.body)  # read before the view; Django keeps it for DRF to parse again
    except RequestDataTooBig:
        return ""  # the view answers 400 itself; nothing was read, so there is nothing to hash
    except RawPostDataException:
        return ""  # an outer layer already consumed the stream as form data


class ApiAuditMiddleware:
    """Placed after AuthenticationMiddleware; the row is built after the response, so the actor is known."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_audited(request.method, request.path):
            return self.get_response(request)
        started = time.perf_counter()
        digest = _body_hash(request)
        # Admin views can log the user out; who they were before the view is the actor then.
        actor_before = None if request.path.startswith("/api/") else _actor(request)
        status = 500  # stays 500 if the view raises through every handler
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            self._record(request, digest, status, (time.perf_counter() - started) * 1000, actor_before)

    def _record(self, request, digest: str, status: int, latency_ms: float, actor_before) -> None:
        try:
            actor, actor_type = _actor(request)
            if actor == ANONYMOUS and actor_before is not None:
                actor, actor_type = actor_before
            record_api_call(
                ApiCall(
                    method=request.method,
                    path=request.path,
                    query=request.META.get("QUERY_STRING", ""),
                    actor=actor,
                    actor_type=actor_type,
                    body_hash=digest,
                    status=status,
                    latency_ms=latency_ms,
                    client_ip=request.META.get("REMOTE_ADDR", ""),
                    request_id=getattr(request, "request_id", ""),
                )
            )
        except Exception:
            # Auditing must not turn a served request into an error; the failure is loud in the logs.
            logger.exception(
                "audit row for an API call not written",
                extra={"request_id": getattr(request, "request_id", "")},
            )
