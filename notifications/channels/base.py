"""The channel interface: `send(event, target)` delivers to one destination or raises `DeliveryError`
(transient unless `permanent`)."""

from __future__ import annotations

import email.utils
import json
import os
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

from notifications.channels import egress
from notifications.channels.targets import Target, builtin_target
from notifications.models import NotificationEvent

# HTTP statuses worth retrying: timeouts, "too early", rate limits and every server error.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# An unreasonable Retry-After is bounded so one answer cannot park an alert for days.
MAX_RETRY_AFTER_SECONDS = 24 * 3600
ERROR_BODY_CHARS = 200
# No channel needs more of an answer than this; a larger one is cut off, and its connection not reused.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "certctl-notifier/1.0"


class DeliveryError(Exception):
    """A failed delivery. `message` is safe to store and log: it never contains a URL path, key or token."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class Channel:
    """One delivery channel. Subclasses set `name`, implement `is_configured(target)` and `send(event, target)`.

    A `Target` is one destination's settings (an admin-configured row or the `CERTCTL_*` variables); without
    one, `is_configured()` checks the channel's built-in environment destination.
    """

    name: ClassVar[str]

    def is_configured(self, target: Target | None = None) -> bool:
        return not self.missing(target or builtin_target(self.name))

    def missing(self, target: Target) -> list[str]:
        """The settings this target lacks to be sent to (empty: configured)."""
        raise NotImplementedError

    def send(self, event: NotificationEvent, target: Target) -> None:
        raise NotImplementedError

    def secrets(self, target: Target | None = None) -> list[str]:
        """Values that must never appear in an error message (URLs, keys, tokens): the target's secrets."""
        return (target or builtin_target(self.name)).secret_values()


def subject_of(event: NotificationEvent) -> str:
    return event.subject or event.type


def created_at_iso(event: NotificationEvent) -> str:
    stamp = event.created_at or datetime.now(UTC)
    return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")


def host_of(url: str) -> str:
    """Only the host of a URL is safe to report: the path of a webhook URL is its token."""
    return urlsplit(url).hostname or "the configured endpoint"


SECRET_SETTINGS = (
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL",
    "PAGERDUTY_ROUTING_KEY",
    "OPSGENIE_API_KEY",
    "SMTP_PASSWORD",
)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """Remove every configured secret (and the path part of secret URLs) from a text before it is stored.

    All channels' secrets are removed, not only the sender's: an error body may echo anything.
    """
    known = [getattr(settings, name, "") for name in SECRET_SETTINGS] + list(secrets or [])
    for secret in sorted(filter(None, known), key=len, reverse=True):
        text = text.replace(secret, "***")
        path = urlsplit(secret).path if "://" in secret else ""
        if len(path) > 1:
            text = text.replace(path, "/***")
    return text


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), bounded; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


_local = threading.local()


def http_session() -> requests.Session:
    """One keep-alive session per process and thread (a forked worker must not share its parent's sockets)."""
    session = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != os.getpid():
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.mount("http://", egress.PinnedAdapter())
        session.mount("https://", egress.PinnedAdapter())
        _local.session, _local.pid = session, os.getpid()
    return session


def post_json(
    url: str,
    *,
    body: bytes,
    secrets: list[str],
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST a JSON body to a vetted destination within the delivery deadline; return the 2xx response (its body
    read, at most MAX_RESPONSE_BYTES) or raise a classified, secret-free `DeliveryError`."""
    host = host_of(url)
    with egress.Deadline(settings.NOTIFICATION_DEADLINE_SECONDS) as deadline:
        try:
            destination = egress.vet(url, tuple(settings.NOTIFICATION_ALLOWED_NETWORKS))
        except egress.RefusedDestination as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        except egress.UnresolvedDestination as exc:
            raise DeliveryError(str(exc)) from None
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        all_headers["Host"] = destination.host_header
        response = _exchange(destination, body, all_headers, host, deadline)
    status = response.status_code
    if 200 <= status < 300:
        return response
    detail = scrub(response.text[:ERROR_BODY_CHARS].strip(), secrets)
    message = f"HTTP {status} from {host}" + (f": {detail}" if detail else "")
    transient = status in TRANSIENT_STATUSES or status >= 500
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if transient else None
    raise DeliveryError(message, permanent=not transient, retry_after=retry_after)


def _exchange(
    destination: egress.Destination,
    body: bytes,
    headers: dict[str, str],
    host: str,
    deadline: egress.Deadline,
) -> requests.Response:
    """Send to the vetted addresses in turn (the next only when one cannot be connected to); read the answer."""
    timeout = settings.NOTIFICATION_TIMEOUT_SECONDS
    expired = DeliveryError(
        f"no complete answer from {host} within the {deadline.seconds:g}s delivery deadline"
    )
    for index, address in enumerate(destination.addresses):
        if deadline.remaining() <= 0:
            raise expired
        try:
            response = http_session().post(
                destination.url_via(address),
                data=body,
                headers=headers,
                timeout=(min(timeout, deadline.remaining()), timeout),
                allow_redirects=False,
                stream=True,
            )
            _read_bounded(response)
            return response
        except (requests.RequestException, OSError) as exc:
            if deadline.expired:
                raise expired from None
            reason = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
            if isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError):
                if isinstance(reason, ConnectTimeoutError) and index + 1 < len(destination.addresses):
                    continue
                raise DeliveryError(f"timed out after {timeout:g}s waiting for {host}") from None
            if isinstance(reason, ConnectTimeoutError) and index + 1 < len(destination.addresses):
                continue  # nothing was sent: the host's next address may answer
            # str(exc) of a requests error contains the full URL, so only its type is reported.
            raise DeliveryError(f"connection error to {host}: {type(exc).__name__}") from None
    raise expired


def _read_bounded(response: requests.Response) -> None:
    chunks, size = [], 0
    for chunk in response.iter_content(8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            response.raw.close()  # unread data left: this connection cannot carry another request
            break
    response._content = b"".join(chunks)[:MAX_RESPONSE_BYTES]
    response._content_consumed = True
    response.close()


def json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
