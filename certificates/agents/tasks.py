"""Celery entry points of the agent stream."""

from celery import shared_task

from certificates.agents.services import sweep as agent_sweep


@shared_task(name="certificates.mark_offline_agents", acks_late=True, ignore_result=True)
def mark_offline_agents() -> dict[str, int]:
    return agent_sweep.sweep_offline()
