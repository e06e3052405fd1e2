from celery import shared_task

from audit.services import chain


@shared_task(name="audit.seal_chain", acks_late=True, ignore_result=True)
def seal_chain() -> int:
    """Give committed audit rows their place in the hash chain (idempotent; sealers take turns on one lock)."""
    return chain.seal()
