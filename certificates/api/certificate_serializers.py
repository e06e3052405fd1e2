"""Serializers of managed certificates and their versions."""

from __future__ import annotations

from rest_framework import serializers

from certificates import validators
from certificates.api.base import InventorySerializer, SparseFieldsMixin, StrictCharField
from certificates.models import (
    CertificateProfile,
    CertificateVersion,
    DeploymentTarget,
    Issuer,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)

WRITE_ONLY_VIA_ACTIONS = ("revoked_at", "revocation_reason", "last_renewal_at", "last_deployment_at")


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
            "created_at",
            "updated_at",
        ]
        read_only_fields = [*WRITE_ONLY_VIA_ACTIONS, "source"]


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


class BulkReassignSerializer(serializers.Serializer):
    certificate_ids = serializers.ListField(
        child=StrictCharField(max_length=40), min_length=1, max_length=MAX_BULK_IDS
    )
    owner_id = serializers.PrimaryKeyRelatedField(queryset=Owner.objects.all())
    team_id = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)


class BulkReassignResultSerializer(serializers.Serializer):
    reassigned = serializers.IntegerField()
