"""Talking to an ACME server: the library's network with the last response kept, and its failures as IssuerError.

A `badNonce` is retried with a fresh nonce up to BAD_NONCE_ATTEMPTS times (the `acme` library alone retries once;
pebble rejects 5% of nonces on purpose, so two in a row happen in real runs). A rate limit (`rateLimited` or HTTP 429) and an unreachable
server are transient (`permanent=False`, the Retry-After in the message and in `IssuerError.retry_after`, which
the job retry honours); every other ACME problem is permanent and names the problem type and detail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from acme import errors as acme_errors
from acme import messages
from acme.client import ClientNetwork
from josepy import errors as jose_errors

from certificates.issuance.issuers.base import IssuerError

USER_AGENT = "certctl"
NETWORK_TIMEOUT_SECONDS = 30
TRANSIENT_PROBLEMS = ("rateLimited", "badNonce", "serverInternal")
BAD_NONCE_ATTEMPTS = 5


class RecordingNetwork(ClientNetwork):
    """ClientNetwork that keeps the last HTTP response, whose Retry-After a rate-limit problem does not carry."""

    last_response: requests.Response | None = None

    def post(self, *args, **kwargs) -> requests.Response:
        for _ in range(BAD_NONCE_ATTEMPTS - 1):
            try:
                return self._post_once(*args, **kwargs)
            except messages.Error as error:
                if error.code != "badNonce":
                    raise
        return self._post_once(*args, **kwargs)

    def _send_request(self, method: str, url: str, *args, **kwargs) -> requests.Response:
        response = super()._send_request(method, url, *args, **kwargs)
        self.last_response = response
        return response


def retry_after_seconds(response: requests.Response | None, now: datetime | None = None) -> int | None:
    """The response's Retry-After in seconds (delta or HTTP date), None without one."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    if value.strip().isdigit():
        return int(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int((when - (now or datetime.now(UTC))).total_seconds()))


def problem_error(problem: messages.Error, doing: str, net: RecordingNetwork | None = None) -> IssuerError:
    response = net.last_response if net is not None else None
    status = response.status_code if response is not None else None
    message = f"ACME {doing} failed: {problem.typ}: {problem.detail or problem.description or 'no detail'}"
    for sub in problem.subproblems or ():
        message += f"; {sub.identifier.value if sub.identifier else '?'}: {sub.typ}: {sub.detail}"
    transient = problem.code in TRANSIENT_PROBLEMS or status == 429
    wait = None
    if transient and (status in (429, 503) or problem.code == "rateLimited"):
        wait = retry_after_seconds(response)
        if wait is not None:
            message += f" (the CA asks to retry after {wait} seconds)"
    return IssuerError(message, permanent=not transient, retry_after=wait)


def issuer_error(exc: Exception, doing: str, net: RecordingNetwork | None = None) -> IssuerError:
    """An IssuerError for what the acme library or requests raised while `doing` something."""
    if isinstance(exc, IssuerError):
        return exc
    if isinstance(exc, messages.Error):
        return problem_error(exc, doing, net)
    if isinstance(exc, requests.exceptions.SSLError):
        return IssuerError(
            f"ACME {doing} failed: the ACME server's TLS certificate is not trusted "
            f"(set ca_bundle for a private CA): {exc}"
        )
    if isinstance(exc, requests.RequestException):
        host = urlsplit(exc.request.url).netloc if exc.request is not None and exc.request.url else "server"
        return IssuerError(
            f"ACME {doing} failed: cannot reach the ACME server at {host}: {type(exc).__name__}",
            permanent=False,
        )
    if isinstance(exc, acme_errors.TimeoutError):
        return IssuerError(f"ACME {doing} did not finish in time; it resumes on retry", permanent=False)
    if isinstance(exc, acme_errors.ClientError) and isinstance(
        exc.args[0] if exc.args else None, requests.Response
    ):
        response = exc.args[0]
        if response.status_code in (429, 503):  # e.g. a rate-limited new-nonce: a HEAD carries no problem
            wait = retry_after_seconds(response)
            after = f" (the CA asks to retry after {wait} seconds)" if wait is not None else ""
            return IssuerError(
                f"ACME {doing} failed: the CA answered HTTP {response.status_code}{after}",
                permanent=False,
                retry_after=wait,
            )
        return IssuerError(
            f"ACME {doing} failed: the server answered HTTP {response.status_code} without a problem document "
            f"(is {response.url} an ACME directory?)"
        )
    if isinstance(exc, jose_errors.Error):
        return IssuerError(f"ACME {doing} failed: the server's answer is not what RFC 8555 describes: {exc}")
    if isinstance(exc, (acme_errors.Error, ValueError, KeyError)):
        return IssuerError(f"ACME {doing} failed: {type(exc).__name__}: {exc}")
    raise exc
