"""Serializers of the issuance endpoints: issuers, jobs, approvals and the lifecycle request bodies."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from rest_framework import serializers

from certctl.api.errors import Conflict
from certctl.api.resources import InventorySerializer, JSONObjectField
from certctl.kernel.crypto import DecryptionError, decrypt_json
from certctl.kernel.secret_keys import secret_looking_keys, secret_message
from certificates.enums import IssuerType
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.config import config_field_problems as acme_config_problems
from certificates.issuance.issuers.acme.config import secret_problems as acme_secret_problems
from certificates.issuance.issuers.registry import public_config_problems
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services.issuer_config import save_issuer


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
        # The type's allow-list (validate) names unknown keys; this also finds secrets nested in allowed ones.
        found = secret_looking_keys(value)
        if found:  # by key, as the allow-list's errors
            raise serializers.ValidationError({path: [secret_message(path)] for path in found})
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        issuer_type = attrs.get("type", self.instance.type if self.instance else None)
        config = attrs.get("config", self.instance.config if self.instance else {})
        if "config" in attrs or "type" in attrs:
            unknown = public_config_problems(issuer_type, config or {})
            if unknown:
                raise serializers.ValidationError({"config": {k: [v] for k, v in unknown.items()}})
        if issuer_type == IssuerType.ACME:
            problems = acme_config_problems(config or {})
            if problems:
                raise serializers.ValidationError({"config": {k: [v] for k, v in problems.items()}})
            secrets = self._secrets_after_save(attrs.get("secrets"))
            missing = acme_secret_problems(config or {}, secrets) if secrets is not None else {}
            if missing:
                raise serializers.ValidationError({"secrets": {k: [v] for k, v in missing.items()}})
        return attrs

    def _secrets_after_save(self, changes: dict[str, Any] | None) -> dict[str, Any] | None:
        """The secrets the issuer will hold after this save; None when the stored ones cannot be decrypted."""
        stored = {}
        if self.instance is not None and self.instance.encrypted_config:
            try:
                stored = decrypt_json(self.instance.encrypted_config)
            except DecryptionError:
                return None
        for name, value in (changes or {}).items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
        return stored

    def create(self, validated_data: dict[str, Any]) -> Issuer:
        secrets = validated_data.pop("secrets", None)
        return save_issuer(Issuer(), validated_data, secrets)

    def update(self, instance: Issuer, validated_data: dict[str, Any]) -> Issuer:
        secrets = validated_data.pop("secrets", None)
        try:
            return save_issuer(instance, validated_data, secrets)
        except DecryptionError as exc:
            raise Conflict(f"{exc}; restore the old key in CERTCTL_ENCRYPTION_KEY to update secrets") from exc


class _UTCModelSerializer(serializers.ModelSerializer):
    """Times go out in UTC with a `Z`."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_class is serializers.DateTimeField:
            kwargs["default_timezone"] = UTC
        return field_class, kwargs


class JobSerializer(_UTCModelSerializer):
    certificate_id = serializers.CharField(read_only=True)
    target_id = serializers.CharField(read_only=True, allow_null=True)
    agent_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "type",
            "certificate_id",
            "target_id",
            "agent_id",
            "status",
            "attempts",
            "max_attempts",
            "last_error",
            "scheduled_at",
            "started_at",
            "completed_at",
            "created_at",
            "updated_at",
            "verification_status",
            "verified_at",
            "verification_error",
            "verification_fingerprint",
        ]
        read_only_fields = fields


class ApprovalSerializer(_UTCModelSerializer):
    certificate_id = serializers.CharField(read_only=True)
    job_id = serializers.CharField(read_only=True)
    profile_id = serializers.CharField(read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "certificate_id",
            "job_id",
            "profile_id",
            "requested_by",
            "state",
            "decided_by",
            "decided_at",
            "decision_note",
            "metadata",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RenewRequestSerializer(serializers.Serializer):
    force = serializers.BooleanField(required=False, default=False)


class RenewResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    job_id = serializers.CharField()
    job_type = serializers.CharField()
    job_status = serializers.CharField()


class IssueRequestSerializer(serializers.Serializer):
    csr_pem = serializers.CharField(max_length=65536, trim_whitespace=False)


class Pkcs12RequestSerializer(serializers.Serializer):
    password = serializers.CharField(min_length=4, max_length=1024, trim_whitespace=False)


class PemExportSerializer(serializers.Serializer):
    certificate_id = serializers.CharField()
    version_id = serializers.CharField()
    serial_number = serializers.CharField()
    cert_pem = serializers.CharField()
    chain_pem = serializers.CharField()
    full_pem = serializers.CharField()
    private_key_pem = serializers.CharField(required=False)


class BulkRenewRequestSerializer(serializers.Serializer):
    profile_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    owner_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    agent_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    issuer_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    team_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    certificate_ids = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, allow_empty=True, max_length=100000
    )

    def validate(self, attrs):
        if not any(attrs.get(key) for key in self.fields):
            raise serializers.ValidationError(
                "give at least one criterion: profile_id, owner_id, agent_id, issuer_id, team_id or certificate_ids"
            )
        return attrs


class BulkRenewJobSerializer(serializers.Serializer):
    certificate_id = serializers.CharField()
    job_id = serializers.CharField()


class BulkRenewErrorSerializer(serializers.Serializer):
    certificate_id = serializers.CharField()
    error = serializers.CharField()


class BulkRenewResponseSerializer(serializers.Serializer):
    total_matched = serializers.IntegerField()
    total_enqueued = serializers.IntegerField()
    total_skipped = serializers.IntegerField()
    total_failed = serializers.IntegerField()
    enqueued_jobs = BulkRenewJobSerializer(many=True)
    errors = BulkRenewErrorSerializer(many=True)


class DecisionRequestSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class DecisionResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    action = serializers.ChoiceField(choices=["approved", "rejected"])
    decided_by = serializers.CharField()
    state = serializers.CharField()
    job_id = serializers.CharField()


class IssuerTestResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "failed"])
    message = serializers.CharField()
    tested_at = serializers.DateTimeField(default_timezone=UTC)
