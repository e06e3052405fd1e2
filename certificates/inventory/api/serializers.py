"""Serializers of the inventory: certificates and their versions, teams, owners, profiles, policies, targets."""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers
from rest_framework.relations import PKOnlyObject

from certctl.api.resources import InventorySerializer, JSONObjectField, SparseFieldsMixin, StrictCharField
from certctl.api.teams import TeamScopedFieldsMixin
from certctl.kernel.secret_keys import secret_looking_keys
from certificates import validators
from certificates.inventory.models import (
    MAX_SANS_LIMIT,
    RSA_KEY_SIZES,
    Agent,
    CertificateProfile,
    CertificateVersion,
    DeploymentTarget,
    Issuer,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)
from notifications.enums import DEFAULT_ALERT_THRESHOLDS

WRITE_ONLY_VIA_ACTIONS = ("revoked_at", "revocation_reason", "last_renewal_at", "last_deployment_at")
# The CA's suggested renewal window (ACME ARI) and the moment picked in it; null without ARI.
ARI_FIELDS = ("ari_window_start", "ari_window_end", "ari_explanation_url", "ari_renew_at", "ari_checked_at")


# Serializer class -> its readers of every field: output only, so the same for every caller (team binding limits
# the choices of writable fields, not what a row reads as).
_ALL_FIELD_READERS: dict[type, list] = {}


def _drf_reader(field: serializers.Field):
    def read(instance):
        attribute = field.get_attribute(instance)
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if check_for_none is None else field.to_representation(attribute)

    return read


def field_reader(field: serializers.Field):
    """A function instance -> the field's representation, as Serializer.to_representation computes it."""
    model_fields = {f.name: f for f in ManagedCertificate._meta.concrete_fields}
    source = field.source_attrs[0] if len(field.source_attrs) == 1 else None
    if isinstance(field, serializers.ManyRelatedField) and source == "targets":
        drf = _drf_reader(field)

        # A list page's target ids are read in one query (certificates.inventory.api.views).
        def read_targets(instance):
            ids = instance.__dict__.get("target_ids_on_page")
            return drf(instance) if ids is None else ids

        return read_targets
    if source not in model_fields:
        return _drf_reader(field)
    attname = model_fields[source].attname
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        if field.pk_field is not None:
            return _drf_reader(field)
        return lambda instance: getattr(instance, attname)
    to_representation = field.to_representation
    if isinstance(field, serializers.CharField | serializers.ChoiceField):

        def read_text(instance):
            value = getattr(instance, attname)
            return value if value is None or type(value) is str else to_representation(value)

        return read_text

    def read(instance):
        value = getattr(instance, attname)
        return None if value is None else to_representation(value)

    return read


class CertificateSerializer(SparseFieldsMixin, InventorySerializer):
    owner_id = serializers.PrimaryKeyRelatedField(source="owner", queryset=Owner.objects.all())
    team_id = serializers.PrimaryKeyRelatedField(source="team", queryset=Team.objects.all())
    issuer_id = serializers.PrimaryKeyRelatedField(source="issuer", queryset=Issuer.objects.all())
    renewal_policy_id = serializers.PrimaryKeyRelatedField(
        source="renewal_policy", queryset=RenewalPolicy.objects.all()
    )
    certificate_profile_id = serializers.PrimaryKeyRelatedField(
        source="profile", queryset=CertificateProfile.objects.all(), required=False, allow_null=True
    )
    target_ids = serializers.PrimaryKeyRelatedField(
        source="targets", queryset=DeploymentTarget.objects.all(), many=True, required=False
    )
    common_name = serializers.CharField(max_length=253, validators=[validators.validate_common_name])
    sans = serializers.ListField(child=StrictCharField(max_length=253), required=False)
    tags = serializers.DictField(child=StrictCharField(allow_blank=True), required=False)

    class Meta:
        model = ManagedCertificate
        fields = [
            "id",
            "name",
            "common_name",
            "sans",
            "environment",
            "owner_id",
            "team_id",
            "issuer_id",
            "renewal_policy_id",
            "certificate_profile_id",
            "target_ids",
            "status",
            "expires_at",
            "tags",
            "last_renewal_at",
            "last_deployment_at",
            "revoked_at",
            "revocation_reason",
            "source",
            *ARI_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = [*WRITE_ONLY_VIA_ACTIONS, "source", *ARI_FIELDS]

    def to_representation(self, instance: ManagedCertificate) -> dict:
        """DRF's representation, with each field's reader worked out once per process (per request with
        `?fields=`) instead of building the fields per request and reading them per row and field (a list page is
        50 rows of 27 fields); the output is the same (tests compare them)."""
        readers = self.__dict__.get("_readers")
        if readers is None:
            readers = self._readers = self._field_readers()
        return {name: read(instance) for name, read in readers}

    def _field_readers(self) -> list:
        request = self.context.get("request")
        sparse = request is not None and request.method == "GET" and request.query_params.get("fields")
        cached = None if sparse else _ALL_FIELD_READERS.get(type(self))
        if cached is not None:
            return cached
        readers = [(field.field_name, field_reader(field)) for field in self._readable_fields]
        if not sparse:
            _ALL_FIELD_READERS[type(self)] = readers
        return readers


class CertificateVersionSerializer(InventorySerializer):
    """One issued certificate: the versions listing and the issue endpoint's response."""

    certificate_id = serializers.CharField(read_only=True)
    issuer_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = CertificateVersion
        fields = [
            "id",
            "certificate_id",
            "issuer_id",
            "serial_number",
            "not_before",
            "not_after",
            "fingerprint_sha256",
            "pem_chain",
            "csr_pem",
            "key_algorithm",
            "key_size",
            "created_at",
        ]
        read_only_fields = fields


MAX_BULK_IDS = 10_000


class BulkReassignSerializer(TeamScopedFieldsMixin, serializers.Serializer):
    certificate_ids = serializers.ListField(
        child=StrictCharField(max_length=40), min_length=1, max_length=MAX_BULK_IDS
    )
    owner_id = serializers.PrimaryKeyRelatedField(queryset=Owner.objects.all())
    team_id = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)


class BulkReassignResultSerializer(serializers.Serializer):
    reassigned = serializers.IntegerField()


class TeamSerializer(InventorySerializer):
    """A team; quiet hours (both bounds or neither, in `timezone`) and the daily digest drive its alerts."""

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "description",
            "quiet_hours_start",
            "quiet_hours_end",
            "timezone",
            "digest_enabled",
            "digest_hour",
            "digest_horizon_days",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start = attrs.get("quiet_hours_start", getattr(self.instance, "quiet_hours_start", None))
        end = attrs.get("quiet_hours_end", getattr(self.instance, "quiet_hours_end", None))
        validators.validate_quiet_hours(start, end)
        return attrs


class OwnerSerializer(InventorySerializer):
    team_id = serializers.PrimaryKeyRelatedField(source="team", queryset=Team.objects.all())

    class Meta:
        model = Owner
        fields = ["id", "name", "email", "team_id", "created_at", "updated_at"]


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
            "max_sans",
            "max_rsa_key_size",
            "created_at",
            "updated_at",
        ]

    constraint_errors = {
        "profile_short_lived_ttl_under_1h": (
            "max_ttl_seconds",
            "a short-lived profile (allow_short_lived) needs 0 < max_ttl_seconds < 3600",
        ),
        "profile_max_sans_range": ("max_sans", f"max_sans must be from 1 to {MAX_SANS_LIMIT}"),
        "profile_max_rsa_key_size_allowed": (
            "max_rsa_key_size",
            f"max_rsa_key_size must be one of {', '.join(map(str, RSA_KEY_SIZES))}",
        ),
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        candidate = copy.copy(self.instance) if self.instance is not None else CertificateProfile()
        for name in ("allowed_key_algorithms", "max_rsa_key_size"):
            if name in attrs:
                setattr(candidate, name, attrs[name])
        problem = candidate.rsa_size_problem()
        if problem:
            raise serializers.ValidationError({"max_rsa_key_size": [problem]})
        return attrs


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
            "alert_owner_tiers",
            "escalation_after_minutes",
            "escalation_steps",
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
    team_id = serializers.PrimaryKeyRelatedField(
        source="team",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="the team that runs the target (team-bound keys see their teams' targets)",
    )
    config = JSONObjectField(required=False)

    class Meta:
        model = DeploymentTarget
        fields = [
            "id",
            "name",
            "type",
            "agent_id",
            "team_id",
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
