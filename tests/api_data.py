"""Helpers that build inventory rows in bulk for API tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from certificates.inventory.models import ManagedCertificate
from tests.factories import IssuerFactory, OwnerFactory, RenewalPolicyFactory


def bulk_certificates(count: int, prefix: str = "bulk", **fields) -> list[ManagedCertificate]:
    """`count` certificates sharing one owner, team, issuer and policy (fast: one INSERT)."""
    owner = fields.pop("owner", None) or OwnerFactory()
    issuer = fields.pop("issuer", None) or IssuerFactory()
    policy = fields.pop("renewal_policy", None) or RenewalPolicyFactory()
    expires = timezone.now() + timedelta(days=90)
    rows = [
        ManagedCertificate(
            name=f"{prefix}-{i:05d}",
            common_name=f"{prefix}{i}.example.test",
            owner=owner,
            team=owner.team,
            issuer=issuer,
            renewal_policy=policy,
            status="Active",
            expires_at=expires,
            **fields,
        )
        for i in range(count)
    ]
    return ManagedCertificate.objects.bulk_create(rows)
