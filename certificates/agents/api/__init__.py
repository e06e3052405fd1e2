"""The agent API under /api/v1/agents (views.py; the ACME HTTP-01 answers agents publish in challenges.py)."""

from certificates.agents.api.urls import agent_urlpatterns

__all__ = ["agent_urlpatterns"]
