"""Saving a certificate profile: its settings decide who may get which certificate, so every change is audited
with the values before and after, and a change of an approval setting also gets its own, searchable action."""

from __future__ import annotations

from django.db import transaction
from django.forms.models import model_to_dict

from audit.services.record import record
from certificates.inventory.models import CertificateProfile

APPROVAL_SETTINGS = ("requires_approval",)
NOT_AUDITED = ("created_at", "updated_at")


def _values(profile: CertificateProfile) -> dict:
    fields = [f.name for f in CertificateProfile._meta.concrete_fields if f.name not in NOT_AUDITED]
    return model_to_dict(profile, fields=fields)


def save_profile(profile: CertificateProfile, *, actor: str, actor_type: str) -> CertificateProfile:
    """Store `profile` (new, or an existing one with changed attributes) and audit what changed."""

    def audit(action: str, **details) -> None:
        record(
            action,
            resource_type="profile",
            resource_id=profile.pk,
            actor=actor,
            actor_type=actor_type,
            details={"name": profile.name, **details},
        )

    with transaction.atomic():
        stored = CertificateProfile.objects.select_for_update().filter(pk=profile.pk).first()
        before = _values(stored) if stored is not None and not profile._state.adding else None
        profile.save()
        after = _values(profile)
        if before is None:
            audit("profile_created", after=after)
            return profile
        changed = sorted(name for name in after if after[name] != before.get(name))
        for action, names in (
            ("profile_changed", changed),
            ("profile_approval_changed", [name for name in changed if name in APPROVAL_SETTINGS]),
        ):
            if names:
                audit(
                    action,
                    before={name: before.get(name) for name in names},
                    after={name: after[name] for name in names},
                )
    return profile
