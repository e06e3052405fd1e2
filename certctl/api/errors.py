"""One error envelope for every API error: `{"error", "message", "request_id"}` (+ `fields` for validation)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
    503: "service_unavailable",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "The resource is gone."
    default_code = "gone"


def request_id_of(request) -> str:
    return getattr(request, "request_id", "") or getattr(getattr(request, "_request", None), "request_id", "")


def envelope(status_code: int, message: str, request, error: str | None = None, **extra) -> dict:
    body = {
        "error": error or ERROR_CODES.get(status_code, "error"),
        "message": message,
        "request_id": request_id_of(request),
    }
    body.update(extra)
    return body


NESTED_TOO_DEEP = "the request body is nested too deeply"


def body_too_large_message() -> str:
    return f"request body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (CERTCTL_MAX_BODY_SIZE)"


def json_error(request, status_code: int, message: str, error: str | None = None, **extra) -> JsonResponse:
    """An error response outside DRF (middleware, plain Django views)."""
    return JsonResponse(envelope(status_code, message, request, error, **extra), status=status_code)


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        parts = [f"{key}: {_flatten(value)}" for key, value in detail.items()]
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def _referenced_message(exc: ProtectedError | RestrictedError) -> str:
    objs = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or []
    counts: dict[tuple[str, str], int] = {}
    for obj in objs:
        label = (str(obj._meta.verbose_name), str(obj._meta.verbose_name_plural))
        counts[label] = counts.get(label, 0) + 1
    what = ", ".join(f"{n} {one if n == 1 else many}" for (one, many), n in sorted(counts.items()))
    return f"still referenced by {what}" if what else "still referenced"


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, RequestDataTooBig):  # raised by request.data, not a DRF error: it would be a 500
        return Response(envelope(413, body_too_large_message(), request), status=413)
    if isinstance(exc, RecursionError):  # the JSON parser on a deeply nested body
        return Response(envelope(400, NESTED_TOO_DEEP, request), status=400)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return Response(envelope(409, _referenced_message(exc), request, "conflict"), status=409)
    if isinstance(exc, IntegrityError):
        return Response(envelope(409, "conflicts with an existing record", request, "conflict"), status=409)
    if isinstance(exc, DataError):
        # e.g. a NUL character PostgreSQL cannot store: bad input, not a server fault.
        return Response(envelope(400, "the database cannot store or compare this value", request), status=400)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", extra={"request_id": request_id_of(request)})
        return Response(envelope(500, "Internal server error", request), status=500)

    code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = envelope(code, _flatten(fields), request, "validation_error", fields=fields)
    else:
        detail = getattr(exc, "detail", str(exc))
        body = envelope(code, _flatten(detail), request, getattr(exc, "error_code", None))
    response.data = body
    return response
