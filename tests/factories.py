"""factory_boy factories for the domain model."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from certctl.api.models import ApiKey
from certctl.kernel.credentials import generate_key, hash_key
from certctl.services.api_keys import scopes_for_admin_flag
from certificates import models as m
from certificates.enums import CertificateStatus


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Team

    name = factory.Sequence(lambda n: f"team-{n}")


class OwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Owner

    name = factory.Sequence(lambda n: f"Owner {n}")
    email = factory.Sequence(lambda n: f"owner{n}@example.test")
    team = factory.SubFactory(TeamFactory)


class IssuerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Issuer

    name = factory.Sequence(lambda n: f"issuer-{n}")
    type = "local"


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CertificateProfile

    name = factory.Sequence(lambda n: f"profile-{n}")


class RenewalPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.RenewalPolicy

    name = factory.Sequence(lambda n: f"policy-{n}")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Agent

    name = factory.Sequence(lambda n: f"agent-{n}")
    hostname = factory.Sequence(lambda n: f"host{n}.example.test")


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.DeploymentTarget

    name = factory.Sequence(lambda n: f"target-{n}")
    type = "NGINX"
    agent = factory.SubFactory(AgentFactory)


class CertificateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ManagedCertificate

    name = factory.Sequence(lambda n: f"cert-{n}")
    common_name = factory.Sequence(lambda n: f"svc{n}.example.test")
    owner = factory.SubFactory(OwnerFactory)
    team = factory.SelfAttribute("owner.team")
    issuer = factory.SubFactory(IssuerFactory)
    renewal_policy = factory.SubFactory(RenewalPolicyFactory)
    status = CertificateStatus.ACTIVE
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=60))


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Job

    type = "Renewal"
    certificate = factory.SubFactory(CertificateFactory)
    scheduled_at = factory.LazyFunction(timezone.now)


def make_api_key(
    name: str, is_admin: bool = False, scopes: list[str] | None = None, teams=(), expires_at=None
) -> tuple[ApiKey, str]:
    """Create an API key row and return it with the raw key: admin, or read+write (the old default), or `scopes`."""
    raw = generate_key()
    scopes = scopes if scopes is not None else scopes_for_admin_flag(is_admin)
    key = ApiKey.objects.create(
        name=name, key_prefix=raw[:12], key_hash=hash_key(raw), scopes=scopes, expires_at=expires_at
    )
    key.teams.set(list(teams))
    return key, raw
