"""`POST /issuers/{id}/test`: can this issuer sign right now? The outcome is stored on the issuer and audited."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.services.record import record
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.base import HealthResult, IssuerNotSupported
from certificates.issuance.issuers.registry import backend_for


def check_issuer(
    issuer: Issuer, *, actor: str, actor_type: str = "User", now: datetime | None = None
) -> HealthResult:
    """Ask the issuer's backend to sign a throw-away certificate; record `test_status` and `last_tested_at`."""
    now = now or timezone.now()
    try:
        result = backend_for(issuer).test(now=now)
    except IssuerNotSupported as exc:
        result = HealthResult(False, str(exc))
    if result.ok and not issuer.enabled:
        result = HealthResult(False, f"issuer is disabled ({result.message})")
    with transaction.atomic():
        Issuer.objects.filter(pk=issuer.pk).update(
            test_status="success" if result.ok else "failed", last_tested_at=now, updated_at=now
        )
        record(
            "issuer_tested",
            resource_type="issuer",
            resource_id=issuer.pk,
            actor=actor,
            actor_type=actor_type,
            details={"ok": result.ok, "message": result.message},
            now=now,
        )
    return result
