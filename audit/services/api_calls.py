"""API-call audit rows: what the middleware saw, turned into an audit row and handed to the writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.models import ActorType
from audit.redaction import redact_query
from audit.services import chain
from audit.services.writer import writer
from certctl.api.models import ApiKey
from certctl.kernel.credentials import hash_key
from certctl.kernel.ids import new_id

ANONYMOUS = "anonymous"
EXCLUDED_PATHS = ("/health", "/ready", "/metrics", "/api/v1/version")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    query: str
    actor: str
    actor_type: str
    body_hash: str
    status: int
    latency_ms: float
    client_ip: str
    request_id: str


def is_audited(method: str, path: str) -> bool:
    """`/api/v1/*` (every method) and state-changing admin requests, minus the probes and static files."""
    if any(path == excluded or path.startswith(excluded + "/") for excluded in EXCLUDED_PATHS):
        return False
    if path.startswith(settings.STATIC_URL):
        return False
    if path == "/api/v1" or path.startswith("/api/v1/"):
        return True
    return path.startswith("/admin/") and method in UNSAFE_METHODS


BODY_HASH_SALT = "certctl.audit.body_hash"


def body_hash(body: bytes) -> str:
    """HMAC-SHA256 hex of the request body, keyed with the server's secret (CERTCTL_SECRET_KEY, salted for this
    use); '' when there is none. Keyed, so a reader of the audit API cannot confirm a guessed body that carries
    a secret offline; an operator with the secret can (`manage.py audit_body_hash FILE`)."""
    return salted_hmac(BODY_HASH_SALT, body, algorithm="sha256").hexdigest() if body else ""


def actor_of_bearer(token: str | None) -> str | None:
    """The name of an active API key, for requests that never reached DRF's authentication (Django 404s)."""
    if not token:
        return None
    return (
        ApiKey.objects.filter(key_hash=hash_key(token), revoked_at__isnull=True)
        .values_list("name", flat=True)
        .first()
    )


def storable(text: str) -> str:
    """`text` as PostgreSQL can store it: a NUL (which text and jsonb refuse) is kept as the `%00` it came as."""
    return text.replace("\x00", "%00")


def build_row(call: ApiCall, now: datetime | None = None) -> dict[str, Any]:
    """The audit row of one API call (its details hold nothing secret: the query string is redacted).

    Every value the client chose is made storable and every column fits, so no request can produce a row the
    database refuses (one such row would hold up the writer's whole batch).
    """
    method, path = storable(call.method), storable(call.path)
    return {
        "id": new_id("audit"),
        "action": f"api_{method.lower()}"[:255],
        "resource_type": "api",
        "resource_id": path[:255],
        "actor": storable(call.actor)[:255] or ANONYMOUS,
        "actor_type": call.actor_type or ActorType.ANONYMOUS,
        "details": {
            "method": method,
            "path": path,
            "query": redact_query(call.query),
            "body_hash": call.body_hash,
            "status": call.status,
            "latency_ms": round(call.latency_ms, 3),
            "client_ip": storable(call.client_ip),
            "request_id": storable(call.request_id),
        },
        "timestamp": now or timezone.now(),
    }


def record_api_call(call: ApiCall, now: datetime | None = None) -> None:
    """Store one API call: queued for a batch write, or written now when `CERTCTL_AUDIT_API_WRITE=sync`."""
    row = build_row(call, now)
    if settings.AUDIT_API_WRITE == "sync":
        chain.insert_rows([row])
    else:
        writer.submit(row)
