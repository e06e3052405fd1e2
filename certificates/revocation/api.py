"""Revocation endpoints: `POST /certificates/{id}/revoke` and the admin-only `POST /certificates/bulk-revoke`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from certctl.api.errors import Conflict
from certctl.api.scopes import ADMIN
from certctl.api.teams import require_team_criterion, scoped
from certificates.inventory.models import ManagedCertificate
from certificates.revocation.services import revoke as revocation

REASON_HELP = "RFC 5280 reason name; default unspecified. One of: " + ", ".join(revocation.VALID_REASONS)


class ReasonField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return revocation.normalize_reason(value)
        except revocation.InvalidReason as exc:
            raise ValidationError(str(exc)) from exc


class RevokeRequestSerializer(serializers.Serializer):
    # Missing, empty or null all mean unspecified, as in the reference (its JSON decoding turns null into "").
    reason = ReasonField(
        required=False, allow_blank=True, allow_null=True, default="unspecified", help_text=REASON_HELP
    )


class RevokeResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    certificate_id = serializers.CharField()
    serial = serializers.CharField()
    reason = serializers.CharField()
    revoked_at = serializers.DateTimeField()


class BulkRevokeRequestSerializer(serializers.Serializer):
    reason = ReasonField(help_text=REASON_HELP)
    certificate_ids = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    owner_id = serializers.CharField(required=False, allow_blank=True)
    team_id = serializers.CharField(required=False, allow_blank=True)
    issuer_id = serializers.CharField(required=False, allow_blank=True)
    profile_id = serializers.CharField(required=False, allow_blank=True)
    agent_id = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if not any(attrs.get(key) for key in revocation.BULK_CRITERIA):
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"at least one criterion is required: {', '.join(revocation.BULK_CRITERIA)}"
                    ]
                }
            )
        return attrs


class BulkErrorSerializer(serializers.Serializer):
    certificate_id = serializers.CharField()
    error = serializers.CharField()


class BulkRevokeResponseSerializer(serializers.Serializer):
    total_matched = serializers.IntegerField()
    total_revoked = serializers.IntegerField()
    total_skipped = serializers.IntegerField()
    total_failed = serializers.IntegerField()
    errors = BulkErrorSerializer(many=True)


class RevokeCertificateView(APIView):
    @extend_schema(
        request=RevokeRequestSerializer,
        responses=RevokeResponseSerializer,
        operation_id="revokeCertificate",
        parameters=[
            OpenApiParameter("id", str, OpenApiParameter.PATH, description="Certificate ID (cert-…)")
        ],
    )
    def post(self, request, pk: str):
        body = RevokeRequestSerializer(data=request.data if isinstance(request.data, dict) else None)
        body.is_valid(raise_exception=True)
        if not scoped(ManagedCertificate.objects.filter(pk=pk), request).exists():
            raise NotFound(f"certificate {pk} not found")
        try:
            row = revocation.revoke_certificate(
                pk, body.validated_data["reason"], actor=request.user.name, actor_type=request.user.actor_type
            )
        except revocation.CertificateNotFound as exc:
            raise NotFound(str(exc)) from exc
        except revocation.NotRevocable as exc:
            raise Conflict(str(exc)) from exc
        return Response(
            RevokeResponseSerializer(
                {
                    "status": "revoked",
                    "certificate_id": pk,
                    "serial": row.serial_number,
                    "reason": row.reason,
                    "revoked_at": row.revoked_at,
                }
            ).data
        )


class BulkRevokeView(APIView):
    write_scope = ADMIN

    @extend_schema(
        request=BulkRevokeRequestSerializer, responses=BulkRevokeResponseSerializer, operation_id="bulkRevoke"
    )
    def post(self, request):
        body = BulkRevokeRequestSerializer(data=request.data if isinstance(request.data, dict) else None)
        body.is_valid(raise_exception=True)
        criteria = {k: v for k, v in body.validated_data.items() if k != "reason"}
        require_team_criterion(request, criteria, ManagedCertificate.objects.all())
        result = revocation.bulk_revoke(
            criteria,
            body.validated_data["reason"],
            actor=request.user.name,
            actor_type=request.user.actor_type,
        )
        return Response(BulkRevokeResponseSerializer(result.as_dict()).data)
