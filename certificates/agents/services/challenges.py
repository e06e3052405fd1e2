"""ACME HTTP-01 answers an agent publishes on its host (issuer `challenge: http-01-agent`): the ones it should
serve now, and its report that one is published. An agent sees only the answers of its own targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from certificates.agents.services.work import NotYours, ensure_active
from certificates.inventory.models import Agent
from certificates.issuance.models import AcmeHttpChallenge

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChallengeItem:
    token: str
    key_authorization: str
    order_id: str
    target_id: str
    acme_webroot: str
    acme_http_port: int | None
    published: bool


def _visible(agent: Agent):
    return AcmeHttpChallenge.objects.filter(target__agent=agent, target__retired_at__isnull=True)


def open_challenges(agent: Agent) -> list[ChallengeItem]:
    """The answers this agent should serve now (until they disappear from this list, when the order ends)."""
    ensure_active(agent)
    rows = _visible(agent).select_related("target").order_by("created_at", "token")
    items = []
    for row in rows:
        config = row.target.config or {}
        port = config.get("acme_http_port")
        items.append(
            ChallengeItem(
                token=row.token,
                key_authorization=row.key_authorization,
                order_id=row.order_id,
                target_id=row.target_id,
                acme_webroot=str(config.get("acme_webroot") or ""),
                acme_http_port=port if isinstance(port, int) and not isinstance(port, bool) else None,
                published=row.published_at is not None,
            )
        )
    return items


def mark_published(agent: Agent, token: str, *, now: datetime | None = None) -> AcmeHttpChallenge:
    """The agent serves this answer now: the order may tell the CA to validate. Repeating it changes nothing."""
    ensure_active(agent)
    now = now or timezone.now()
    row = _visible(agent).filter(pk=token).first()
    if row is None:
        raise NotYours("no such ACME challenge")
    if row.published_at is None:
        _visible(agent).filter(pk=token, published_at__isnull=True).update(published_at=now)
        row.published_at = now
        logger.info(
            "ACME HTTP-01 answer published by agent",
            extra={"agent_id": agent.pk, "order": row.order_id, "target": row.target_id},
        )
    return row
