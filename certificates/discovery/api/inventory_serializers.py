"""Serializers of the discovered inventory: certificates (never the private key, only `has_private_key`), where
they were seen, endpoints, and the claim / dismiss / assign bodies."""

from __future__ import annotations

from rest_framework import serializers

from certctl.api.resources import InventorySerializer, StrictCharField, UTCDateTimeField
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint, DiscoverySighting
from certificates.inventory.api.serializers import CertificateSerializer
from certificates.inventory.models import (
    CertificateProfile,
    DeploymentTarget,
    Issuer,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
)

CERTIFICATE_FIELDS = [
    "id",
    "fingerprint_sha256",
    "common_name",
    "subject",
    "issuer_dn",
    "sans",
    "serial_number",
    "not_before",
    "not_after",
    "key_algorithm",
    "key_size",
    "curve",
    "signature_algorithm",
    "is_self_signed",
    "is_ca",
    "is_weak",
    "status",
    "managed_certificate_id",
    "owner_id",
    "team_id",
    "claimed_at",
    "claimed_by",
    "dismissed_at",
    "dismissed_by",
    "dismissed_reason",
    "has_private_key",
    "first_seen_at",
    "last_seen_at",
    "created_at",
    "updated_at",
]


class DiscoveredCertificateSerializer(InventorySerializer):
    """A discovered certificate in the list; the PEM and the key stay out (the detail has the PEM)."""

    # Plain strings in the schema: the enums' names would collide with other apps' `status` choice sets.
    status = serializers.CharField(read_only=True, help_text="Unmanaged, Managed or Dismissed")
    managed_certificate_id = serializers.CharField(read_only=True, allow_null=True)
    owner_id = serializers.CharField(read_only=True, allow_null=True)
    team_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = DiscoveredCertificate
        fields = CERTIFICATE_FIELDS
        read_only_fields = CERTIFICATE_FIELDS


class EndpointSerializer(InventorySerializer):
    """A place a certificate is served (address, port, SNI) or stored (agent, host, path)."""

    kind = serializers.CharField(read_only=True, help_text="network or agent")
    chain_problem = serializers.CharField(
        read_only=True, help_text='"" (none), missing_intermediate or wrong_order'
    )
    agent_id = serializers.CharField(read_only=True, allow_null=True)
    current_certificate_id = serializers.CharField(read_only=True, allow_null=True)
    previous_certificate_id = serializers.CharField(read_only=True, allow_null=True)
    target_id = serializers.CharField(read_only=True, allow_null=True)
    changed = serializers.SerializerMethodField()

    class Meta:
        model = DiscoveryEndpoint
        fields = [
            "id",
            "kind",
            "address",
            "port",
            "sni",
            "agent_id",
            "hostname",
            "path",
            "protocol",
            "chain_problem",
            "current_certificate_id",
            "previous_certificate_id",
            "changed",
            "changed_at",
            "change_acknowledged_at",
            "target_id",
            "first_seen_at",
            "last_seen_at",
            "last_error",
        ]
        read_only_fields = fields

    def get_changed(self, endpoint: DiscoveryEndpoint) -> bool:
        """A different certificate replaced the one seen here before, and nobody acknowledged it yet."""
        return endpoint.changed_at is not None and endpoint.change_acknowledged_at is None


class SightingSerializer(InventorySerializer):
    """Where and when a certificate was seen: the endpoint's place, or the import's detail."""

    source = serializers.CharField(read_only=True, help_text="network, agent or import")
    endpoint_id = serializers.CharField(read_only=True, allow_null=True)
    scan_run_id = serializers.CharField(read_only=True, allow_null=True)
    address = serializers.CharField(source="endpoint.address", read_only=True, default="")
    port = serializers.IntegerField(source="endpoint.port", read_only=True, default=None, allow_null=True)
    sni = serializers.CharField(source="endpoint.sni", read_only=True, default="")
    protocol = serializers.CharField(source="endpoint.protocol", read_only=True, default="")
    agent_id = serializers.CharField(
        source="endpoint.agent_id", read_only=True, default=None, allow_null=True
    )
    hostname = serializers.CharField(source="endpoint.hostname", read_only=True, default="")
    path = serializers.CharField(source="endpoint.path", read_only=True, default="")

    class Meta:
        model = DiscoverySighting
        fields = [
            "id",
            "source",
            "endpoint_id",
            "address",
            "port",
            "sni",
            "protocol",
            "agent_id",
            "hostname",
            "path",
            "key_present",
            "chain_fingerprints",
            "scan_run_id",
            "detail",
            "first_seen_at",
            "last_seen_at",
        ]
        read_only_fields = fields


class DiscoveredCertificateDetailSerializer(DiscoveredCertificateSerializer):
    """One discovered certificate with its PEM, chain, sightings and the endpoints serving it now."""

    sightings = SightingSerializer(many=True, read_only=True)
    endpoints = EndpointSerializer(many=True, read_only=True, source="current_at")

    class Meta(DiscoveredCertificateSerializer.Meta):
        fields = [*CERTIFICATE_FIELDS, "pem", "chain_pem", "sightings", "endpoints"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    """PATCH: only the owner and the team (null clears); everything else is what was found."""

    owner_id = serializers.PrimaryKeyRelatedField(
        queryset=Owner.objects.all(), allow_null=True, required=False
    )
    team_id = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"owner_id", "team_id"})
            if unknown:
                raise serializers.ValidationError(
                    {name: ["read-only: only owner_id and team_id can change"] for name in unknown}
                )
        return super().to_internal_value(data)


class ClaimSerializer(serializers.Serializer):
    """Either `managed_certificate_id` (link) or owner, team, policy and issuer (create)."""

    managed_certificate_id = serializers.PrimaryKeyRelatedField(
        queryset=ManagedCertificate.objects.all(), required=False
    )
    name = StrictCharField(max_length=255, required=False, allow_blank=True)
    owner_id = serializers.PrimaryKeyRelatedField(queryset=Owner.objects.all(), required=False)
    team_id = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)
    renewal_policy_id = serializers.PrimaryKeyRelatedField(
        queryset=RenewalPolicy.objects.all(), required=False
    )
    issuer_id = serializers.PrimaryKeyRelatedField(queryset=Issuer.objects.all(), required=False)
    profile_id = serializers.PrimaryKeyRelatedField(
        queryset=CertificateProfile.objects.all(), required=False, allow_null=True
    )
    environment = StrictCharField(max_length=64, required=False, allow_blank=True)
    target_ids = serializers.PrimaryKeyRelatedField(
        queryset=DeploymentTarget.objects.all(), many=True, required=False
    )

    CREATE_FIELDS = ("owner_id", "team_id", "renewal_policy_id", "issuer_id")

    def validate(self, attrs):
        if "managed_certificate_id" in attrs:
            extra = sorted(set(self.initial_data) - {"managed_certificate_id"})
            if extra:
                raise serializers.ValidationError(
                    {
                        name: ["not allowed with managed_certificate_id (linking changes nothing else)"]
                        for name in extra
                    }
                )
            return attrs
        missing = [name for name in self.CREATE_FIELDS if name not in attrs]
        if missing:
            raise serializers.ValidationError(
                {
                    name: ["required to create a managed certificate (or give managed_certificate_id)"]
                    for name in missing
                }
            )
        return attrs


class ClaimOutcomeSerializer(serializers.Serializer):
    discovered_certificate_id = serializers.CharField()
    created = (
        serializers.BooleanField()
    )  # false: linked to an existing managed certificate, or claimed before
    private_key_stored = serializers.BooleanField()  # an imported key became the version's server key
    endpoints = EndpointSerializer(many=True)  # where it is deployed, with the matched target


class ClaimResponseSerializer(CertificateSerializer):
    """The claim's answer: the managed certificate, plus what the claim did."""

    claim = ClaimOutcomeSerializer(read_only=True)
    # Plain strings here: the same choice sets under a second component name would make the enum names collide.
    status = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)

    class Meta(CertificateSerializer.Meta):
        fields = [*CertificateSerializer.Meta.fields, "claim"]


class DismissSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=2000, allow_blank=False)


class AcknowledgedSerializer(serializers.Serializer):
    acknowledged = serializers.BooleanField()
    endpoint = EndpointSerializer()


class LastScanSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    created_at = UTCDateTimeField()
    finished_at = UTCDateTimeField(allow_null=True)


class SummarySerializer(serializers.Serializer):
    by_status = serializers.DictField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    expired = serializers.IntegerField()
    expiring_soon = serializers.IntegerField()
    expiring_soon_days = serializers.IntegerField()
    weak = serializers.IntegerField()
    self_signed = serializers.IntegerField()
    changed_endpoints = serializers.IntegerField()
    last_scan = LastScanSerializer(allow_null=True)
