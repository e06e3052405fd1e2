"""Certificate lifecycle endpoints: renew, issue from a CSR, export, bulk renew, and the issuer test."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from certctl.api.errors import Conflict
from certctl.api.scopes import ADMIN
from certctl.api.teams import require_team_criterion, scoped
from certificates.inventory.api.serializers import CertificateVersionSerializer
from certificates.inventory.models import Issuer, ManagedCertificate
from certificates.issuance.api import serializers as s
from certificates.issuance.services import bulk_renewal, export, issuance, issuer_health, renewal
from certificates.issuance.services.jobs import InvalidTransition


class ServiceRefused(exceptions.APIException):
    """A service said no: the status and the `error` code come from the service's exception."""

    def __init__(self, status_code: int, message: str, code: str) -> None:
        self.status_code = status_code
        self.error_code = code
        super().__init__(message)


def _issuance_refused(exc: issuance.IssuanceError) -> ServiceRefused:
    code = 409 if isinstance(exc, issuance.ApprovalRequired) else 400
    return ServiceRefused(code, str(exc), exc.code)


def _truthy(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _certificate(request, pk: str) -> ManagedCertificate:
    """The certificate, or a 404 (also for another team's, to a team-bound caller)."""
    queryset = ManagedCertificate.objects.select_related("issuer", "profile", "owner", "renewal_policy")
    return get_object_or_404(scoped(queryset, request), pk=pk)


class RenewView(APIView):
    @extend_schema(
        request=s.RenewRequestSerializer,
        parameters=[OpenApiParameter("force", bool, description="replace an open renewal job")],
        responses={202: s.RenewResponseSerializer},
        tags=["lifecycle"],
        summary="Start a renewal (or the first issuance) of a certificate",
    )
    def post(self, request, pk: str):
        certificate = _certificate(request, pk)
        body = s.RenewRequestSerializer(data=request.data)  # a non-object body is a 400, not "no options"
        body.is_valid(raise_exception=True)
        force = body.validated_data["force"] or _truthy(request.query_params.get("force", ""))
        try:
            job = renewal.request_renewal(
                certificate, actor=request.user.name, actor_type=request.user.actor_type, force=force
            )
        except renewal.RenewalRefused as exc:
            raise ServiceRefused(400, str(exc), "renewal_refused") from exc
        except renewal.RenewalAlreadyOpen as exc:
            raise Conflict(str(exc)) from exc
        return Response(
            {"status": "renewal_triggered", "job_id": job.pk, "job_type": job.type, "job_status": job.status},
            status=status.HTTP_202_ACCEPTED,
        )


class IssueView(APIView):
    @extend_schema(
        request=s.IssueRequestSerializer,
        responses={201: CertificateVersionSerializer},
        tags=["lifecycle"],
        summary="Issue a certificate from a CSR (completes a job waiting for a CSR, if any)",
    )
    def post(self, request, pk: str):
        certificate = _certificate(request, pk)
        body = s.IssueRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            version = issuance.issue_for_certificate(
                certificate,
                body.validated_data["csr_pem"],
                actor=request.user.name,
                actor_type=request.user.actor_type,
            )
        except issuance.IssuanceError as exc:
            raise _issuance_refused(exc) from exc
        except InvalidTransition as exc:
            raise Conflict(str(exc)) from exc
        return Response(CertificateVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class ExportPemView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include_key", bool, description="admin only: add the server-generated private key"
            ),
            OpenApiParameter("download", bool, description="answer with a PEM file instead of JSON"),
        ],
        responses={200: s.PemExportSerializer},
        tags=["lifecycle"],
        summary="Export the current version as PEM",
    )
    def get(self, request, pk: str):
        certificate = _certificate(request, pk)
        include_key = _truthy(request.query_params.get("include_key", ""))
        if include_key and not request.user.is_admin:
            raise exceptions.PermissionDenied("exporting a private key requires an admin API key")
        try:
            body = export.export_pem(
                certificate,
                actor=request.user.name,
                actor_type=request.user.actor_type,
                include_key=include_key,
            )
        except export.ExportError as exc:
            raise Conflict(str(exc)) from exc
        if _truthy(request.query_params.get("download", "")):
            content = body.get("private_key_pem", "") + body["full_pem"]
            response = HttpResponse(content, content_type="application/x-pem-file")
            response["Content-Disposition"] = f'attachment; filename="{certificate.pk}.pem"'
            return response
        return Response(body)


class ExportPkcs12View(APIView):
    write_scope = ADMIN

    @extend_schema(
        request=s.Pkcs12RequestSerializer,
        responses={(200, "application/x-pkcs12"): OpenApiResponse(OpenApiTypes.BINARY)},
        tags=["lifecycle"],
        summary="Export the current version and its server-generated key as PKCS#12 (admin)",
    )
    def post(self, request, pk: str):
        certificate = _certificate(request, pk)
        body = s.Pkcs12RequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            bundle = export.export_pkcs12(
                certificate,
                password=body.validated_data["password"],
                actor=request.user.name,
                actor_type=request.user.actor_type,
            )
        except export.ExportError as exc:
            raise Conflict(str(exc)) from exc
        response = HttpResponse(bundle, content_type="application/x-pkcs12")
        response["Content-Disposition"] = f'attachment; filename="{certificate.pk}.p12"'
        return response


class BulkRenewView(APIView):
    @extend_schema(
        request=s.BulkRenewRequestSerializer,
        responses={200: s.BulkRenewResponseSerializer},
        tags=["lifecycle"],
        summary="Start renewals for every certificate matching the criteria",
    )
    def post(self, request):
        body = s.BulkRenewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        require_team_criterion(request, body.validated_data, ManagedCertificate.objects.all())
        result = bulk_renewal.bulk_renew(
            body.validated_data, actor=request.user.name, actor_type=request.user.actor_type
        )
        return Response(s.BulkRenewResponseSerializer(result).data)


class IssuerTestView(APIView):
    @extend_schema(
        request=None,
        responses={200: s.IssuerTestResponseSerializer},
        tags=["issuers"],
        summary="Check that the issuer can sign (stores test_status and last_tested_at)",
    )
    def post(self, request, pk: str):
        issuer = get_object_or_404(Issuer, pk=pk)
        result = issuer_health.check_issuer(
            issuer, actor=request.user.name, actor_type=request.user.actor_type
        )
        issuer.refresh_from_db(fields=["last_tested_at"])
        return Response(
            {
                "status": "success" if result.ok else "failed",
                "message": result.message,
                "tested_at": s.IssuerTestResponseSerializer()
                .fields["tested_at"]
                .to_representation(issuer.last_tested_at),
            }
        )
