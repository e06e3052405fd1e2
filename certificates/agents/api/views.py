"""The agent API's views: operators list, register and retire agents; agents heartbeat, claim work, submit CSRs,
pick up certificates and report job status with their own credential."""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from certctl.api.authentication import APIKeyAuthentication, StaffSessionAuthentication
from certctl.api.errors import ERROR_CODES, Conflict, Gone, envelope
from certctl.api.pagination import PagePagination
from certctl.api.permissions import HasScope
from certctl.api.scopes import ADMIN
from certificates.agents.auth import (
    AgentAuthentication,
    BootstrapAuthentication,
    BootstrapRejected,
    CanRegisterAgent,
    IsAgent,
)
from certificates.agents.services import challenges as agent_challenges
from certificates.agents.services import registration as agents
from certificates.agents.services import work as agent_work
from certificates.enums import AgentStatus
from certificates.inventory.models import Agent
from certificates.issuance.models import Job
from certificates.issuance.services import jobs as job_service
from certificates.issuance.services.issuance import ApprovalRequired, IssuanceError

logger = logging.getLogger(__name__)

OPERATOR_AUTH = [APIKeyAuthentication, StaffSessionAuthentication]


class AgentCredentialScheme(OpenApiAuthenticationExtension):
    target_class = "certificates.agents.auth.AgentAuthentication"
    name = "agentCredential"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "the per-agent credential from registration",
        }


class BootstrapScheme(OpenApiAuthenticationExtension):
    target_class = "certificates.agents.auth.BootstrapAuthentication"
    name = "agentBootstrap"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "CERTCTL_AGENT_BOOTSTRAP_TOKEN or an admin API key",
        }


class AgentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agent
        fields = [
            "id", "name", "hostname", "status", "last_heartbeat_at", "registered_at", "os", "architecture",
            "ip_address", "version", "metadata", "retired_at", "retired_reason",
        ]  # fmt: skip
        read_only_fields = fields


class RegisterSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", max_length=128)
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True)
    os = serializers.CharField(max_length=64, required=False, allow_blank=True)
    architecture = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ip_address = serializers.IPAddressField(required=False, allow_blank=True)
    version = serializers.CharField(max_length=64, required=False, allow_blank=True)


class HeartbeatSerializer(RegisterSerializer):
    name = None


class CSRSerializer(serializers.Serializer):
    certificate_id = serializers.CharField(max_length=40)
    csr_pem = serializers.CharField(max_length=65536)
    job_id = serializers.CharField(max_length=40, required=False, allow_blank=True)


MAX_CSR_BATCH = 100


class CSRBatchSerializer(serializers.Serializer):
    submissions = serializers.ListField(child=CSRSerializer(), min_length=1, max_length=MAX_CSR_BATCH)


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=agent_work.REPORTABLE_STATUSES)
    error = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    detail = serializers.CharField(max_length=1000, required=False, allow_blank=True)


def _domain_error(exc: Exception) -> Exception:
    """The HTTP answer for an agent domain error (or the exception itself when it is not one)."""
    mapping = [
        (agents.AgentRetired, Gone),
        (agents.AgentNameTaken, Conflict),
        (agents.SentinelAgent, exceptions.PermissionDenied),
        (agents.RetireReasonRequired, exceptions.ValidationError),
        (agent_work.NotYours, exceptions.NotFound),
        (agent_work.NoVersion, exceptions.NotFound),
        (agent_work.NoCSRJob, Conflict),
        (agent_work.BadReport, exceptions.ValidationError),
        (job_service.InvalidTransition, Conflict),
    ]
    if isinstance(exc, IssuanceError):
        # 400 with the issuance reason as the error code; a missing approval is a state conflict (409).
        rejected = (
            Conflict(str(exc)) if isinstance(exc, ApprovalRequired) else exceptions.ParseError(str(exc))
        )
        rejected.error_code = exc.code
        return rejected
    for domain, api in mapping:
        if isinstance(exc, domain):
            return api(str(exc))
    return exc


class DomainErrorsMixin:
    def handle_exception(self, exc):
        return super().handle_exception(_domain_error(exc))


class AgentCollectionView(DomainErrorsMixin, APIView):
    """GET: the active agents (operators). POST: register an agent (bootstrap token or admin API key)."""

    write_scope = ADMIN  # or the bootstrap token (CanRegisterAgent)

    def get_authenticators(self):
        if getattr(self.request, "method", None) == "POST":
            return [BootstrapAuthentication()]
        return [auth() for auth in OPERATOR_AUTH]

    def get_permissions(self):
        if getattr(self.request, "method", None) == "POST":
            return [CanRegisterAgent()]
        return [HasScope()]

    def permission_denied(self, request, message=None, code=None):
        if request.method == "POST" and not request.successful_authenticator:
            raise BootstrapRejected()
        super().permission_denied(request, message, code)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=AgentStatus.values)],
        responses=AgentSerializer(many=True),
    )
    def get(self, request):
        agents_in_service = Agent.objects.filter(retired_at__isnull=True).order_by("name")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in AgentStatus.values:
                raise exceptions.ValidationError(
                    {"status": [f"must be one of {', '.join(AgentStatus.values)}"]}
                )
            agents_in_service = agents_in_service.filter(status=wanted)
        return _paged(self, request, agents_in_service)

    @extend_schema(request=RegisterSerializer, responses={201: AgentSerializer})
    def post(self, request):
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        principal = request.user
        agent, credential = agents.register(
            name=data.pop("name"),
            metadata=data,
            actor=principal.name,
            actor_type="User" if principal.kind == "api_key" else "System",
        )
        # The credential is shown once, here; the server keeps only its hash.
        return Response(
            {**AgentSerializer(agent).data, "api_key": credential}, status=status.HTTP_201_CREATED
        )


def _paged(view: APIView, request, queryset):
    paginator = PagePagination()
    page = paginator.paginate_queryset(queryset, request, view)
    return paginator.get_paginated_response(AgentSerializer(page, many=True).data)


class RetiredAgentListView(APIView):
    authentication_classes = OPERATOR_AUTH

    @extend_schema(responses=AgentSerializer(many=True))
    def get(self, request):
        return _paged(self, request, Agent.objects.filter(retired_at__isnull=False).order_by("-retired_at"))


class AgentDetailView(DomainErrorsMixin, APIView):
    authentication_classes = OPERATOR_AUTH
    write_scope = ADMIN  # retiring an agent

    @extend_schema(responses=AgentSerializer)
    def get(self, request, agent_id: str):
        return Response(AgentSerializer(get_object_or_404(Agent, pk=agent_id)).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("force", bool, description="retire its targets and cancel its open jobs too"),
            OpenApiParameter("reason", str, description="required with force"),
        ],
        responses={200: None, 204: None, 409: None},
    )
    def delete(self, request, agent_id: str):
        force = request.query_params.get("force", "").lower() in {"1", "true", "yes"}
        reason = request.query_params.get("reason", "")
        if agent_id not in agents.SENTINEL_AGENT_IDS:
            get_object_or_404(Agent, pk=agent_id)
        try:
            result = agents.retire(
                agent_id,
                force=force,
                reason=reason,
                actor=request.user.name,
                actor_type=request.user.actor_type,
            )
        except agents.RetireBlocked as exc:
            body = envelope(409, str(exc), request, "blocked_by_dependencies", counts=exc.counts)
            return Response(body, status=status.HTTP_409_CONFLICT)
        if result.already_retired:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {
                "retired_at": AgentSerializer(result.agent).data["retired_at"],
                "already_retired": False,
                "cascade": result.cascade,
                "counts": result.counts,
            }
        )


class AgentEndpoint(DomainErrorsMixin, APIView):
    """Base of the endpoints an agent calls with its own credential, only ever about itself."""

    authentication_classes = [AgentAuthentication]
    permission_classes = [IsAgent]

    def agent(self, request, agent_id: str) -> Agent:
        agent: Agent = request.auth
        if agent.pk != agent_id:
            raise exceptions.NotFound("agent not found")  # another agent's id looks like an unknown one
        if agent.retired_at is not None:
            raise Gone(f"agent {agent.pk} was retired")
        return agent


class HeartbeatView(AgentEndpoint):
    @extend_schema(request=HeartbeatSerializer, responses=AgentSerializer)
    def post(self, request, agent_id: str):
        agent = self.agent(request, agent_id)
        body = HeartbeatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(AgentSerializer(agents.heartbeat(agent, metadata=body.validated_data)).data)


def _work_item(job: Job) -> dict:
    item = {"id": job.pk, "type": job.type, "certificate_id": job.certificate_id, "status": job.status}
    if job.type == "Deployment":
        item.update(target_id=job.target_id, target_name=job.target.name, target_type=job.target.type)
        item["target_config"] = job.target.config
    else:
        algorithm, size = agent_work.key_requirement(job.certificate)
        item.update(
            common_name=job.certificate.common_name,
            sans=job.certificate.sans,
            key_algorithm=algorithm,
            key_size=size,
        )
    return item


class WorkView(AgentEndpoint):
    @extend_schema(responses={200: None})
    def get(self, request, agent_id: str):
        agent = self.agent(request, agent_id)
        work = agent_work.claim_work(agent)
        items = [_work_item(job) for job in work.deployments + work.csr_requests]
        challenges = [asdict(item) for item in agent_challenges.open_challenges(agent)]
        return Response({"jobs": items, "count": len(items), "challenges": challenges})


class CSRView(AgentEndpoint):
    @extend_schema(request=CSRSerializer, responses={202: None})
    def post(self, request, agent_id: str):
        agent = self.agent(request, agent_id)
        body = CSRSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = agent_work.submit_csr(agent, **body.validated_data)
        return Response(
            {
                "status": "csr_signed",
                "certificate_id": version.certificate_id,
                "version_id": version.pk,
                "serial_number": version.serial_number,
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _csr_result(result: agent_work.CSRResult) -> dict:
    item = {"certificate_id": result.certificate_id, "job_id": result.job_id or None}
    if result.error is None:
        version = result.version
        return {
            **item,
            "status": "csr_signed",
            "version_id": version.pk,
            "serial_number": version.serial_number,
        }
    answer = _domain_error(result.error)
    if not isinstance(answer, exceptions.APIException):
        # Not a refusal (the database refused this one issuance even when written alone): the others of the
        # request are committed, so answer for this one instead of failing the whole request.
        logger.error("agent CSR batch: issuance failed", exc_info=result.error)
        answer = exceptions.APIException(
            "this issuance could not be written; nothing was changed for it, retry"
        )
    code = getattr(answer, "error_code", None) or ERROR_CODES.get(answer.status_code, answer.default_code)
    return {
        **item,
        "status": "rejected",
        "http_status": answer.status_code,
        "error": code,
        "message": str(answer.detail),
    }


class CSRBatchView(AgentEndpoint):
    """Many CSRs in one request, each answered on its own; the signed ones are written together."""

    @extend_schema(request=CSRBatchSerializer, responses={200: None})
    def post(self, request, agent_id: str):
        agent = self.agent(request, agent_id)
        body = CSRBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        results = [_csr_result(r) for r in agent_work.submit_csrs(agent, body.validated_data["submissions"])]
        signed = sum(1 for r in results if r["status"] == "csr_signed")
        return Response({"results": results, "signed": signed, "rejected": len(results) - signed})


class CertificatePickupView(AgentEndpoint):
    @extend_schema(responses={200: None})
    def get(self, request, agent_id: str, cert_id: str):
        version = agent_work.latest_version(self.agent(request, agent_id), cert_id)
        return Response(
            {
                "certificate_id": version.certificate_id,
                "version_id": version.pk,
                "serial_number": version.serial_number,
                "fingerprint_sha256": version.fingerprint_sha256,
                "not_after": serializers.DateTimeField().to_representation(version.not_after),
                "certificate_pem": version.pem_chain,
            }
        )


class JobStatusView(AgentEndpoint):
    @extend_schema(request=StatusSerializer, responses={200: None})
    def post(self, request, agent_id: str, job_id: str):
        agent = self.agent(request, agent_id)
        body = StatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = agent_work.report_status(agent, job_id, **body.validated_data)
        return Response({"status": "updated", "job_id": job.pk, "job_status": job.status})
