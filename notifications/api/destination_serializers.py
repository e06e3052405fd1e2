"""Destination bodies: public `config`, write-only `secrets` (answered only as `secrets_set` and `url_host`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from certctl.api.resources import InventorySerializer, JSONObjectField, StrictCharField, UTCDateTimeField
from certctl.kernel.crypto import DecryptionError
from notifications.channels import targets
from notifications.enums import DestinationKind, SeverityTier
from notifications.models import Destination
from notifications.services.destinations import is_configured


def _team_queryset():
    # Destination.team points at certificates.Team: reached through the model, not imported (apps layering).
    return Destination._meta.get_field("team").related_model.objects.all()


@extend_schema_field({"type": "array", "items": {"type": "string", "enum": SeverityTier.values}})
class TierListField(serializers.ListField):
    """Severity tiers; documented inline (the tier enum component belongs to the notifications' severity_tier)."""

    child = serializers.ChoiceField(choices=SeverityTier.choices)


class DestinationSerializer(InventorySerializer):
    """A destination as the API shows it; the settings each kind takes are in docs/destinations.md."""

    name = StrictCharField(max_length=255)
    kind = serializers.ChoiceField(choices=DestinationKind.choices)
    config = JSONObjectField(
        required=False, help_text="Public settings of the kind (channel, format, priority, recipients, ...)."
    )
    secrets = JSONObjectField(
        write_only=True,
        required=False,
        help_text="Secret settings (webhook URLs, routing keys, API keys, HMAC secret, SMTP password), stored "
        "encrypted and never returned. On PATCH a secret left out keeps its value; null clears an optional one.",
    )
    team_id = serializers.PrimaryKeyRelatedField(
        source="team",
        queryset=_team_queryset(),
        allow_null=True,
        required=False,
        help_text="The team whose certificates' alerts it receives; null: installation-wide.",
    )
    tiers = TierListField(
        required=False,
        help_text="Severity tiers it accepts; empty: every tier.",
    )
    secrets_set = serializers.SerializerMethodField(
        help_text="Names of the secret settings that have a value."
    )
    url_host = serializers.SerializerMethodField(
        help_text="The host of its secret URL, the part that may show."
    )
    configured = serializers.SerializerMethodField(
        help_text="Whether it has what it needs to send (environment ones: whether the CERTCTL_* variables are set)."
    )

    class Meta:
        model = Destination
        fields = [
            "id",
            "name",
            "kind",
            "source",
            "config",
            "secrets",
            "secrets_set",
            "url_host",
            "configured",
            "enabled",
            "team_id",
            "tiers",
            "is_default",
            "last_delivery_at",
            "last_delivery_status",
            "last_delivery_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "source",
            "last_delivery_at",
            "last_delivery_status",
            "last_delivery_error",
        ]

    def to_representation(self, destination: Destination) -> dict[str, Any]:
        body = super().to_representation(destination)
        if destination.from_environment:  # the public settings the CERTCTL_* variables give it
            config = self._target(destination).config
            body["config"] = {k: v for k, v in config.items() if v not in ("", None, [])}
        return body

    def _target(self, destination: Destination) -> targets.Target | None:
        cache = self.context.setdefault("targets", {})
        if destination.pk not in cache:
            try:
                cache[destination.pk] = targets.target_for(destination)
            except DecryptionError:
                cache[destination.pk] = None
        return cache[destination.pk]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_secrets_set(self, destination: Destination) -> list[str]:
        target = self._target(destination)
        return sorted(name for name, value in target.secrets.items() if value) if target else []

    def get_url_host(self, destination: Destination) -> str:
        target = self._target(destination)
        return targets.url_host(target) if target else ""

    def get_configured(self, destination: Destination) -> bool:
        target = self._target(destination)
        return bool(target) and is_configured(target)


class DestinationTestSerializer(serializers.Serializer):
    recipient = serializers.EmailField(
        required=False, help_text="Email destinations: where the test goes (default: its recipients)."
    )


class DestinationTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField(help_text="What happened; never a secret.")
    destination_id = serializers.CharField()
    last_delivery_at = UTCDateTimeField(allow_null=True)
    last_delivery_status = serializers.CharField()
