"""Serializers of network scans: profiles (targets checked on save), ad hoc scan requests, runs and their progress."""

from __future__ import annotations

from rest_framework import serializers

from certctl.api.resources import InventorySerializer, UTCDateTimeField
from certificates.discovery.models import ScanProfile, ScanRun
from certificates.discovery.services.targets import TargetError, parse_targets
from certificates.inventory.models import Team


def check_targets(targets, ports) -> int:
    """The number of addresses x ports, or a 400 naming every bad target or port."""
    try:
        return parse_targets(targets, ports).total
    except TargetError as exc:
        raise serializers.ValidationError(exc.fields) from None


class ScanProfileSerializer(InventorySerializer):
    """A scan profile; `targets` and `ports` are checked together (see docs/discovery.md for the syntax)."""

    targets = serializers.ListField(child=serializers.CharField(max_length=300), allow_empty=False)
    ports = serializers.ListField(child=serializers.IntegerField(), required=False)
    concurrency = serializers.IntegerField(required=False, min_value=1, max_value=512)
    timeout_ms = serializers.IntegerField(required=False, min_value=100, max_value=60_000)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=65_536)
    interval_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=527_040
    )
    team_id = serializers.PrimaryKeyRelatedField(
        source="team", queryset=Team.objects.all(), allow_null=True, required=False
    )
    targets_total = serializers.SerializerMethodField()

    class Meta:
        model = ScanProfile
        fields = [
            "id",
            "name",
            "description",
            "targets",
            "ports",
            "targets_total",
            "interval_minutes",
            "concurrency",
            "timeout_ms",
            "chunk_size",
            "enabled",
            "team_id",
            "last_run_at",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_run_at", "next_run_at", "created_at", "updated_at"]

    def get_targets_total(self, profile: ScanProfile) -> int:
        try:
            return parse_targets(profile.targets, profile.ports).total
        except TargetError:
            return 0

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = self.instance
        targets = attrs.get("targets", instance.targets if instance else None)
        ports = attrs.get("ports", instance.ports if instance else None)
        check_targets(targets, ports)
        return attrs


class AdhocScanSerializer(serializers.Serializer):
    """Start a run: of a profile (`profile_id`), or of targets given here (`targets`, optional `ports`...)."""

    profile_id = serializers.CharField(required=False)
    targets = serializers.ListField(child=serializers.CharField(max_length=300), required=False)
    ports = serializers.ListField(child=serializers.IntegerField(), required=False)
    timeout_ms = serializers.IntegerField(required=False, min_value=100, max_value=60_000, default=3000)
    concurrency = serializers.IntegerField(required=False, min_value=1, max_value=512, default=64)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=65_536, default=512)

    def validate(self, attrs):
        if attrs.get("profile_id"):
            if attrs.get("targets") or attrs.get("ports"):
                raise serializers.ValidationError(
                    {"profile_id": ["give either profile_id or targets, not both"]}
                )
            return attrs
        if not attrs.get("targets"):
            raise serializers.ValidationError({"targets": ["give profile_id, or targets to scan"]})
        check_targets(attrs["targets"], attrs.get("ports"))
        return attrs


class ScanRunSerializer(serializers.ModelSerializer):
    profile_id = serializers.CharField(read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()
    created_at = UTCDateTimeField(read_only=True)
    started_at = UTCDateTimeField(read_only=True, allow_null=True)
    finished_at = UTCDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ScanRun
        fields = [
            "id",
            "profile_id",
            "profile_name",
            "status",
            "requested_by",
            "targets_total",
            "targets_done",
            "progress",
            "found",
            "new_certificates",
            "errors",
            "chunks_total",
            "chunks_done",
            "created_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    def get_progress(self, run: ScanRun) -> float:
        """Share of targets done, 0.0 to 1.0."""
        return round(run.targets_done / run.targets_total, 4) if run.targets_total else 1.0
