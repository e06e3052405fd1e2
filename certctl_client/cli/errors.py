"""Exit codes (documented in docs/cli.md) and the one-line error a failed command prints on stderr."""

from __future__ import annotations

from certctl_client.api import ApiError, ClientError, NetworkError
from certctl_client.config import ConfigError

OK = 0
FAILED = 1  # the server answered with an error of its own (5xx, 429, ...) or could not be reached
USAGE = 2  # bad arguments, missing configuration, or a 400 from the API (the input was wrong)
NOT_FOUND = 3
REFUSED = 4  # 401 / 403: the key is wrong, revoked or not allowed to do this
CONFLICT = 5  # 409: the object is not in a state that allows it (e.g. requeue of a sent notification)

_BY_STATUS = {400: USAGE, 401: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: CONFLICT}


def exit_code_of(exc: Exception) -> int:
    if isinstance(exc, ApiError):
        return _BY_STATUS.get(exc.status, FAILED)
    if isinstance(exc, ConfigError):
        return USAGE
    return FAILED


def error_line(exc: ClientError | ConfigError, *, key_configured: bool = True) -> str:
    """`error: <message> [<code>, request <id>]` on one line; the API never echoes the key, nor do we."""
    text = str(exc)
    if isinstance(exc, ApiError):
        context = ", ".join(
            part for part in (exc.code, exc.request_id and f"request {exc.request_id}") if part
        )
        text = f"{text} [{context}]" if context else text
        if exc.status == 401 and not key_configured:
            text += " (no API key configured: set CERTCTL_API_KEY or a profile's api_key_file)"
    elif isinstance(exc, NetworkError):
        text += " [network]"
    elif isinstance(exc, ConfigError):
        text += " [configuration]"
    return "error: " + " ".join(text.split())
