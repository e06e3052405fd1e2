"""Celery entry points of the agent stream."""

from celery import shared_task

from certificates.agents.services import sweep as agent_sweep
from certificates.agents.services import verification


@shared_task(name="certificates.mark_offline_agents", acks_late=True, ignore_result=True)
def mark_offline_agents() -> dict[str, int]:
    return agent_sweep.sweep_offline()


@shared_task(name="certificates.verify_deployment", acks_late=True, ignore_result=True)
def verify_deployment(job_id: str) -> str:
    return verification.verify_reported(job_id)
