"""The ACME HTTP-01 answers an agent publishes on its host (issuer `challenge: http-01-agent`)."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from certificates.agents.api.views import AgentEndpoint
from certificates.agents.services import challenges as agent_challenges


class ChallengeListView(AgentEndpoint):
    """The answers this agent should serve now; one that disappears is to be removed (its order ended)."""

    @extend_schema(responses={200: None})
    def get(self, request, agent_id: str):
        items = [asdict(item) for item in agent_challenges.open_challenges(self.agent(request, agent_id))]
        return Response({"challenges": items, "count": len(items)})


class ChallengePublishedView(AgentEndpoint):
    """The agent serves this answer now (404 for a token that is not one of its own)."""

    @extend_schema(request=None, responses={200: None})
    def post(self, request, agent_id: str, token: str):
        row = agent_challenges.mark_published(self.agent(request, agent_id), token)
        return Response({"status": "published", "token": row.token, "order_id": row.order_id})
