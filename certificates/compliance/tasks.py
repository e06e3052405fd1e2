"""Compliance tasks: certificates.evaluate_compliance."""

from celery import shared_task

from certificates.compliance.services import evaluate
from certificates.compliance.services.publisher import EVALUATE_TASK


@shared_task(name=EVALUATE_TASK, acks_late=True, ignore_result=True)
def evaluate_compliance(
    managed_ids: list[str] | None = None, discovered_ids: list[str] | None = None
) -> dict:
    """Without ids: the sweep over every certificate (beat). With ids: only those certificates."""
    return evaluate.run(managed_ids, discovered_ids)
