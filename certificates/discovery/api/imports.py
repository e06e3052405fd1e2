"""POST /api/v1/discovery/import: a PEM bundle, DER certificate or PKCS#12 file, as an upload or in JSON."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from certificates.discovery.services.imports import ImportRejected, ImportResult, ImportTooLarge
from certificates.discovery.services.imports import import_certificates as run_import


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class ImportSerializer(serializers.Serializer):
    """One file: `file` (multipart), or `pem` text, or `der_base64` / `pkcs12_base64` (JSON)."""

    file = serializers.FileField(required=False)
    pem = serializers.CharField(required=False, trim_whitespace=False)
    der_base64 = serializers.CharField(required=False)
    pkcs12_base64 = serializers.CharField(required=False)
    filename = serializers.CharField(required=False, allow_blank=True, max_length=255)
    password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, write_only=True)
    include_private_key = serializers.BooleanField(required=False, default=False)

    SOURCES = ("file", "pem", "der_base64", "pkcs12_base64")

    def validate(self, attrs: dict) -> dict:
        given = [name for name in self.SOURCES if attrs.get(name) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError(f"give exactly one of: {', '.join(self.SOURCES)}")
        source = given[0]
        if source == "file":
            upload = attrs["file"]
            if upload.size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:  # checked before it is read into memory
                raise PayloadTooLarge(
                    f"file over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (CERTCTL_MAX_BODY_SIZE)"
                )
            attrs["data"] = upload.read()
            attrs.setdefault("filename", upload.name or "")
        elif source == "pem":
            attrs["data"] = attrs["pem"].encode()
        else:
            try:
                attrs["data"] = base64.b64decode(attrs[source], validate=True)
            except (binascii.Error, ValueError):
                raise serializers.ValidationError({source: ["not valid base64"]}) from None
        return attrs


class ImportedSerializer(serializers.Serializer):
    id = serializers.CharField(source="certificate.pk")
    fingerprint_sha256 = serializers.CharField(source="certificate.fingerprint_sha256")
    common_name = serializers.CharField(source="certificate.common_name")
    not_after = serializers.DateTimeField(source="certificate.not_after")
    is_ca = serializers.BooleanField(source="certificate.is_ca")
    created = serializers.BooleanField()
    has_private_key = serializers.BooleanField()


def import_response(result: ImportResult) -> dict:
    return {
        "import_id": result.import_id,
        "format": result.kind,
        "imported": ImportedSerializer(result.items, many=True).data,
        "count": len(result.items),
        "new": sum(item.created for item in result.items),
        "private_key_ignored": result.keys_ignored,
    }


class ImportView(APIView):
    """Import certificates an operator already has; a private key only with `include_private_key` (stored
    encrypted, never returned). One transaction: a file with any problem stores nothing."""

    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        tags=["discovery"],
        request={"multipart/form-data": ImportSerializer, "application/json": ImportSerializer},
        responses={
            201: inline_serializer(
                "DiscoveryImportResult",
                {
                    "import_id": serializers.CharField(),
                    "format": serializers.CharField(),
                    "imported": ImportedSerializer(many=True),
                    "count": serializers.IntegerField(),
                    "new": serializers.IntegerField(),
                    "private_key_ignored": serializers.BooleanField(),
                },
            ),
            400: OpenApiResponse(
                description="wrong_password, password_required, no_certificate, key_mismatch…"
            ),
            413: OpenApiResponse(description="the file is over CERTCTL_MAX_BODY_SIZE"),
        },
    )
    def post(self, request):
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        try:
            result = run_import(
                values["data"],
                filename=values.get("filename", ""),
                password=values.get("password"),
                include_private_key=values["include_private_key"],
                actor=request.user.name,
                actor_type=request.user.actor_type,
            )
        except ImportTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except ImportRejected as exc:
            rejected = exceptions.ParseError(str(exc))
            rejected.error_code = exc.code
            raise rejected from None
        return Response(import_response(result), status=status.HTTP_201_CREATED)


urlpatterns = [re_path(r"^discovery/import/?$", ImportView.as_view(), name="discovery-import")]
