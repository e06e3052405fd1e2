"""HTTP-01 answered by an agent on the target host (`challenge: http-01-agent`), for names whose port 80 reaches
that host rather than certctl.

The answer is an AcmeHttpChallenge row naming the certificate's target that has `acme_webroot` or
`acme_http_port` in its config; that target's agent fetches it (`GET /api/v1/agents/{id}/challenges`, also in its
work), writes `<acme_webroot>/.well-known/acme-challenge/<token>` or serves it on `acme_http_port`, and reports it
published. certctl tells the CA to validate only once every answer of the attempt is published; past
`agent_publish_timeout_seconds` the attempt fails as transient and the retry resumes the order. When the order
ends the rows are deleted, and the agent removes what it published at its next poll.
"""

from __future__ import annotations

import time
from typing import Any

from certificates.inventory.models import DeploymentTarget
from certificates.issuance.issuers.base import IssuerError
from certificates.issuance.models import AcmeHttpChallenge

TARGET_KEYS = ("acme_webroot", "acme_http_port")
DEFAULT_PUBLISH_TIMEOUT_SECONDS = 120
MAX_PUBLISH_TIMEOUT_SECONDS = 3600
FIRST_CHECK_SECONDS = 0.2
MAX_CHECK_SECONDS = 2.0


def config_problems(config: dict[str, Any]) -> dict[str, str]:
    timeout = config.get("agent_publish_timeout_seconds", DEFAULT_PUBLISH_TIMEOUT_SECONDS)
    if (
        not isinstance(timeout, int)
        or isinstance(timeout, bool)
        or not 1 <= timeout <= MAX_PUBLISH_TIMEOUT_SECONDS
    ):
        return {
            "agent_publish_timeout_seconds": "agent_publish_timeout_seconds must be a whole number of seconds "
            f"from 1 to {MAX_PUBLISH_TIMEOUT_SECONDS}"
        }
    return {}


def answering_target(certificate_id: str, issuer_name: str) -> DeploymentTarget:
    """The certificate's live target (the first by id) whose agent answers HTTP-01; IssuerError when none."""
    target = (
        DeploymentTarget.objects.filter(
            certificates__pk=certificate_id, retired_at__isnull=True, enabled=True, agent__isnull=False
        )
        .order_by("id")
        .only("id", "config", "agent_id")
    )
    for candidate in target:
        config = candidate.config or {}
        if any(config.get(key) not in (None, "") for key in TARGET_KEYS):
            return candidate
    raise IssuerError(
        f"issuer {issuer_name} answers HTTP-01 through an agent (challenge http-01-agent), but certificate "
        f"{certificate_id or '(none)'} has no enabled deployment target with an agent and acme_webroot or "
        "acme_http_port in its config"
    )


def wait_until_published(tokens: list[str], timeout_seconds: int, identifiers: dict[str, str]) -> None:
    """Return once the agent has reported every token published; transient IssuerError past the timeout."""
    deadline = time.monotonic() + timeout_seconds
    pause = FIRST_CHECK_SECONDS
    while True:
        waiting = set(
            AcmeHttpChallenge.objects.filter(token__in=tokens, published_at__isnull=True).values_list(
                "token", flat=True
            )
        )
        if not waiting:
            return
        if time.monotonic() + pause > deadline:
            names = ", ".join(sorted(identifiers.get(token, token) for token in waiting))
            raise IssuerError(
                f"the agent did not publish the HTTP-01 answer for {names} within {timeout_seconds} seconds "
                "(is it running and polling, with acme_webroot or acme_http_port usable on its host?); the "
                "order resumes on retry",
                permanent=False,
            )
        time.sleep(pause)
        pause = min(pause * 2, MAX_CHECK_SECONDS)
