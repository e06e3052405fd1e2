"""Alert destinations as rows: create, change, enable and delete them (API, admin), each change audited.

Secrets arrive write-only and are stored encrypted; the audit rows name which secrets were set or changed, never
their values. Destinations from the environment (`source=environment`) are read-only: the `CERTCTL_*` variables
are their settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services.record import record
from certctl.kernel.crypto import DecryptionError
from notifications.channels import get_channel, targets
from notifications.enums import CHANNEL_KIND, DestinationKind, builtin_destination_id
from notifications.models import Destination, NotificationEvent

ENVIRONMENT_VARIABLES = {
    DestinationKind.EMAIL: "CERTCTL_SMTP_*",
    DestinationKind.WEBHOOK: "CERTCTL_WEBHOOK_URL",
    DestinationKind.SLACK: "CERTCTL_SLACK_WEBHOOK_URL",
    DestinationKind.TEAMS: "CERTCTL_TEAMS_WEBHOOK_URL",
    DestinationKind.PAGERDUTY: "CERTCTL_PAGERDUTY_ROUTING_KEY",
    DestinationKind.OPSGENIE: "CERTCTL_OPSGENIE_API_KEY",
}
EDITABLE = ("name", "enabled", "team", "tiers", "is_default")


class ReadOnlyDestination(Exception):
    """A destination set by environment variables: change the variables, not the row (the API answers 409)."""

    def __init__(self, destination: Destination) -> None:
        super().__init__(
            f"{destination.name} is set by environment variables ({ENVIRONMENT_VARIABLES[destination.kind]}): "
            "change them and restart certctl"
        )


class DestinationInUse(Exception):
    """Renewal policies still route alerts to the destination (the API answers 409 naming them)."""

    def __init__(self, destination: Destination, policies: list[str]) -> None:
        super().__init__(
            f"{destination.name} is used by renewal polic{'y' if len(policies) == 1 else 'ies'} "
            f"{', '.join(policies)} (alert_channels or escalation_steps): remove it there first"
        )
        self.policies = policies


def is_configured(target: targets.Target) -> bool:
    """Whether a destination has what its channel needs to send (for the environment's: the variables are set)."""
    return get_channel(target.channel).is_configured(target)


def destination_q(destination_id: str, prefix: str = "") -> Q:
    """Notification rows of a destination; a built-in one also owns the rows whose producer named only its channel."""
    q = Q(**{f"{prefix}destination_id": destination_id})
    channel = {builtin_destination_id(c): c for c in CHANNEL_KIND}.get(destination_id)
    if channel is not None:
        q |= Q(
            **{
                f"{prefix}destination__isnull": True,
                f"{prefix}destination_name": "",
                f"{prefix}channel": channel,
            }
        )
    return q


def row_destination_id(destination_id: str | None, destination_name: str, channel: str) -> str | None:
    """Which destination a notification row belongs to (None: a destination since deleted)."""
    if destination_id:
        return destination_id
    if not destination_name and channel in CHANNEL_KIND:
        return builtin_destination_id(channel)
    return None


def check_settings(
    kind: str,
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    *,
    destination: Destination | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a kind's settings (merged into the stored ones of `destination`); the (config, secrets) to store.

    A config key set to null or a secret set to null/"" removes it; left out, it keeps its stored value. Errors
    are a ValidationError keyed `kind`, `config.<setting>` or `secrets.<setting>`.
    """
    stored_config = dict(destination.config or {}) if destination is not None else {}
    merged_config = {k: v for k, v in {**stored_config, **config}.items() if v is not None}
    given_secrets = {k: "" if v is None else v for k, v in secrets.items()}
    existing = targets.read_secrets(destination) if destination is not None else {}
    try:
        return targets.validate_settings(kind, merged_config, given_secrets, existing_secrets=existing)
    except ValidationError as exc:
        raise ValidationError(_prefixed(kind, exc, config, secrets)) from None


def _prefixed(kind: str, exc: ValidationError, config: Mapping, secrets: Mapping) -> dict[str, list[str]]:
    secret_names = {s.name for s in targets.KINDS.get(kind, ()) if s.secret}
    errors = {}
    for name, messages in exc.message_dict.items():
        if name == "kind":
            errors[name] = messages
        elif name in secrets or (name not in config and name in secret_names):
            errors[f"secrets.{name}"] = messages
        else:
            errors[f"config.{name}"] = messages
    return errors


def _check_fields(fields: Mapping[str, Any], team: Any) -> None:
    errors = {}
    if "tiers" in fields:
        try:
            targets.validate_tiers(fields["tiers"])
        except ValidationError as exc:
            errors["tiers"] = exc.messages
    if fields.get("is_default") and team is not None:
        errors["is_default"] = ["a team's destination cannot be a default: defaults are installation-wide"]
    if errors:
        raise ValidationError(errors)


def _stored_secret_names(destination: Destination) -> list[str]:
    try:
        return sorted(targets.read_secrets(destination))
    except DecryptionError:  # encrypted with a key since removed: deleting it must still work
        return []


def _summary(destination: Destination, secrets: Mapping[str, str] | list[str]) -> dict[str, Any]:
    return {
        "name": destination.name,
        "kind": destination.kind,
        "config": destination.config,
        "write_only_settings": sorted(secrets),  # names only; a key named "secrets..." would be redacted
        "enabled": destination.enabled,
        "team_id": destination.team_id,
        "tiers": destination.tiers,
        "is_default": destination.is_default,
    }


def create_destination(
    *,
    name: str,
    kind: str,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    actor: str,
    actor_type: str,
    **fields: Any,
) -> Destination:
    """Create a destination (`fields`: enabled, team, tiers, is_default). Raises ValidationError (field dict)."""
    clean_config, clean_secrets = check_settings(kind, config or {}, secrets or {})
    _check_fields(fields, fields.get("team"))
    destination = Destination(name=name, kind=kind, config=clean_config, **fields)
    if "tiers" in fields:
        destination.tiers = targets.validate_tiers(fields["tiers"])
    targets.write_secrets(destination, clean_secrets)
    now = timezone.now()
    with transaction.atomic():
        destination.save(force_insert=True)
        record(
            "destination_created",
            resource_type="destination",
            resource_id=destination.pk,
            actor=actor,
            actor_type=actor_type,
            details=_summary(destination, clean_secrets),
            now=now,
        )
    return destination


def update_destination(
    destination: Destination,
    *,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    actor: str,
    actor_type: str,
    **changes: Any,
) -> Destination:
    """Change a destination: `changes` among name, enabled, team, tiers, is_default (and `kind`, which must stay
    the same); `config` and `secrets` are merged into the stored ones (see check_settings).

    Raises ReadOnlyDestination for an environment destination, ValidationError (field dict) for bad input and
    crypto.DecryptionError when the stored secrets cannot be read with the current key.
    """
    if destination.from_environment:
        raise ReadOnlyDestination(destination)
    kind = changes.pop("kind", destination.kind)
    if kind != destination.kind:
        raise ValidationError({"kind": ["cannot change: create a new destination of the other kind"]})
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    before_secrets = targets.read_secrets(destination)
    clean_config, clean_secrets = check_settings(kind, config or {}, secrets or {}, destination=destination)
    _check_fields(changes, changes.get("team", destination.team))
    if "tiers" in changes:
        changes["tiers"] = targets.validate_tiers(changes["tiers"])
    changed = [name for name, value in changes.items() if getattr(destination, name) != value]
    if clean_config != (destination.config or {}):
        changed.append("config")
    secrets_changed = sorted(
        name
        for name in set(before_secrets) | set(clean_secrets)
        if before_secrets.get(name) != clean_secrets.get(name)
    )
    old_name = destination.name
    for name, value in changes.items():
        setattr(destination, name, value)
    destination.config = clean_config
    targets.write_secrets(destination, clean_secrets)
    now = timezone.now()
    with transaction.atomic():
        destination.save()
        if destination.name != old_name:
            _repoint_policies(old_name, destination.pk)
        record(
            "destination_updated",
            resource_type="destination",
            resource_id=destination.pk,
            actor=actor,
            actor_type=actor_type,
            details={
                "changed": sorted([*changed, *(f"secrets.{name}" for name in secrets_changed)]),
                **_summary(destination, clean_secrets),
            },
            now=now,
        )
    return destination


def set_enabled(destination: Destination, enabled: bool, *, actor: str, actor_type: str) -> Destination:
    """Enable or disable a destination (admin actions); an environment destination raises ReadOnlyDestination."""
    return update_destination(destination, enabled=enabled, actor=actor, actor_type=actor_type)


def referencing_policies(destination: Destination) -> list[str]:
    """Names of the renewal policies whose alert_channels or escalation_steps name this destination."""
    # Read through the app registry: notifications sits below certificates and never imports it.
    policy_model = apps.get_model("certificates", "RenewalPolicy")
    names = {destination.pk, destination.name}
    found = []
    for name, matrix, steps in policy_model.objects.order_by("name").values_list(
        "name", "alert_channels", "escalation_steps"
    ):
        refs = [*_entries(matrix.values() if isinstance(matrix, dict) else []), *_entries(steps or [])]
        if names & set(refs):
            found.append(name)
    return found


def _repoint_policies(old_name: str, destination_id: str) -> None:
    """After a rename, policies that named the destination by its old name name it by its id, so their routing
    and escalation keep reaching it (saved without validation: only the reference changes)."""
    policy_model = apps.get_model("certificates", "RenewalPolicy")
    for policy in policy_model.objects.select_for_update():
        matrix = policy.alert_channels if isinstance(policy.alert_channels, dict) else {}
        new_matrix = {tier: _renamed(refs, old_name, destination_id) for tier, refs in matrix.items()}
        steps = policy.escalation_steps if isinstance(policy.escalation_steps, list) else []
        new_steps = [_renamed(step, old_name, destination_id) for step in steps]
        if new_matrix != matrix or new_steps != steps:
            policy_model.objects.filter(pk=policy.pk).update(
                alert_channels=new_matrix, escalation_steps=new_steps
            )


def _renamed(refs, old_name: str, destination_id: str):
    return [destination_id if ref == old_name else ref for ref in refs] if isinstance(refs, list) else refs


def _entries(lists) -> list[str]:
    return [entry for group in lists if isinstance(group, list) for entry in group if isinstance(entry, str)]


def delete_destination(destination: Destination, *, actor: str, actor_type: str) -> None:
    """Delete a destination no policy uses; its notification rows stay, with its name and no destination.

    Raises ReadOnlyDestination (environment) or DestinationInUse (policies name it).
    """
    if destination.from_environment:
        raise ReadOnlyDestination(destination)
    now = timezone.now()
    with transaction.atomic():
        locked = Destination.objects.select_for_update().get(pk=destination.pk)
        policies = referencing_policies(locked)
        if policies:
            raise DestinationInUse(locked, policies)
        # The snapshot name is what tells "sent to a since-deleted destination" from "named only a channel".
        kept = NotificationEvent.objects.filter(destination=locked).count()
        NotificationEvent.objects.filter(destination=locked, destination_name="").update(
            destination_name=locked.name
        )
        details = {**_summary(locked, _stored_secret_names(locked)), "notifications_kept": kept}
        locked.delete()
        record(
            "destination_deleted",
            resource_type="destination",
            resource_id=destination.pk,
            actor=actor,
            actor_type=actor_type,
            details=details,
            now=now,
        )
