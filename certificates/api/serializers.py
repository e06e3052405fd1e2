"""Serializers of the reference data around certificates: teams, owners, issuers, profiles, policies, targets, agents."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from certctl.api.errors import Conflict
from certctl.crypto import DecryptionError
from certificates.api.base import InventorySerializer
from certificates.api.secret_keys import secret_looking_keys
from certificates.models import (
    Agent,
    CertificateProfile,
    DeploymentTarget,
    Issuer,
    Owner,
    RenewalPolicy,
    Team,
)
from certificates.services.issuer_config import save_issuer
from notifications.enums import DEFAULT_ALERT_THRESHOLDS


class TeamSerializer(InventorySerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "description", "created_at", "updated_at"]


class OwnerSerializer(InventorySerializer):
    team_id = serializers.PrimaryKeyRelatedField(source="team", queryset=Team.objects.all())

    class Meta:
        model = Owner
        fields = ["id", "name", "email", "team_id", "created_at", "updated_at"]


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON value that must be an object."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class IssuerSerializer(InventorySerializer):
    """`config` is public; `secrets` is write-only and stored encrypted; `has_secrets` says whether any are set."""

    config = JSONObjectField(required=False)
    secrets = JSONObjectField(
        write_only=True,
        required=False,
        help_text="Credentials (tokens, passwords, keys). Merged into the stored secrets; null removes one. "
        "Never returned.",
    )
    has_secrets = serializers.SerializerMethodField()

    class Meta:
        model = Issuer
        fields = [
            "id",
            "name",
            "type",
            "config",
            "secrets",
            "has_secrets",
            "enabled",
            "last_tested_at",
            "test_status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_tested_at", "test_status"]

    def get_has_secrets(self, issuer: Issuer) -> bool:
        return bool(issuer.encrypted_config)

    def validate_config(self, value: dict) -> dict:
        found = secret_looking_keys(value)
        if found:
            raise serializers.ValidationError(
                f"{', '.join(found)} look like secrets: send them in `secrets`, which is stored encrypted"
            )
        return value

    def create(self, validated_data: dict[str, Any]) -> Issuer:
        secrets = validated_data.pop("secrets", None)
        return save_issuer(Issuer(), validated_data, secrets)

    def update(self, instance: Issuer, validated_data: dict[str, Any]) -> Issuer:
        secrets = validated_data.pop("secrets", None)
        try:
            return save_issuer(instance, validated_data, secrets)
        except DecryptionError as exc:
            raise Conflict(f"{exc}; restore the old key in CERTCTL_ENCRYPTION_KEY to update secrets") from exc


class ProfileSerializer(InventorySerializer):
    class Meta:
        model = CertificateProfile
        fields = [
            "id",
            "name",
            "description",
            "allowed_key_algorithms",
            "max_ttl_seconds",
            "allowed_ekus",
            "required_san_patterns",
            "allow_short_lived",
            "must_staple",
            "requires_approval",
            "enabled",
            "created_at",
            "updated_at",
        ]

    constraint_errors = {
        "profile_short_lived_ttl_under_1h": (
            "max_ttl_seconds",
            "a short-lived profile (allow_short_lived) needs 0 < max_ttl_seconds < 3600",
        )
    }


class RenewalPolicySerializer(InventorySerializer):
    class Meta:
        model = RenewalPolicy
        fields = [
            "id",
            "name",
            "renewal_window_days",
            "auto_renew",
            "max_retries",
            "retry_interval_seconds",
            "alert_thresholds_days",
            "alert_channels",
            "alert_severity_map",
            "created_at",
            "updated_at",
        ]

    def to_internal_value(self, data):
        # As in the reference: 0 / empty mean "the default" on create and update.
        if isinstance(data, dict):
            data = dict(data)
            if data.get("renewal_window_days") == 0:
                data["renewal_window_days"] = 30
            if data.get("retry_interval_seconds") == 0:
                data["retry_interval_seconds"] = 3600
            if data.get("alert_thresholds_days") == []:
                data["alert_thresholds_days"] = list(DEFAULT_ALERT_THRESHOLDS)
        return super().to_internal_value(data)


class TargetSerializer(InventorySerializer):
    agent_id = serializers.PrimaryKeyRelatedField(source="agent", queryset=Agent.objects.all())
    config = JSONObjectField(required=False)

    class Meta:
        model = DeploymentTarget
        fields = [
            "id",
            "name",
            "type",
            "agent_id",
            "config",
            "enabled",
            "retired_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["retired_at"]

    def validate_config(self, value: dict) -> dict:
        found = secret_looking_keys(value)
        if found:
            raise serializers.ValidationError(
                f"{', '.join(found)} look like credentials: targets are deployed by their agent, "
                "so keep credentials in the agent's local configuration"
            )
        return value
