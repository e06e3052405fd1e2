"""Compliance rules and violations as the API shows them."""

from __future__ import annotations

from rest_framework import serializers

from certctl.api.resources import UTCDateTimeField
from certificates.compliance.models import ComplianceRule, Violation


class RuleSerializer(serializers.ModelSerializer):
    """A rule; `config` depends on `type` (docs/discovery.md, "Compliance rules") and is checked on save."""

    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)
    config = serializers.JSONField(required=False, help_text='e.g. {"rsa": 2048, "ec": 256} for min_key_size')
    open_violations = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = ComplianceRule
        fields = [
            "id",
            "name",
            "type",
            "config",
            "severity",
            "applies_to",
            "enabled",
            "description",
            "open_violations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "open_violations", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}


class ViolationSerializer(serializers.ModelSerializer):
    rule_id = serializers.CharField(read_only=True)
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    certificate_id = serializers.CharField(read_only=True, allow_null=True)
    discovered_certificate_id = serializers.CharField(read_only=True, allow_null=True)
    team_id = serializers.CharField(read_only=True, allow_null=True)
    state = serializers.SerializerMethodField()
    first_seen_at = UTCDateTimeField(read_only=True)
    last_seen_at = UTCDateTimeField(read_only=True)
    resolved_at = UTCDateTimeField(read_only=True, allow_null=True)
    notified_at = UTCDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Violation
        fields = [
            "id",
            "rule_id",
            "rule_name",
            "rule_type",
            "severity",
            "state",
            "certificate_id",
            "discovered_certificate_id",
            "team_id",
            "message",
            "details",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
            "notified_at",
        ]
        read_only_fields = fields

    def get_state(self, violation: Violation) -> str:
        return "resolved" if violation.resolved_at else "open"
