"""Deployment on demand, the deployments of a certificate, post-deployment verification of a job and the server-side
test of a target. A team-bound caller finds only its teams' certificates, targets and jobs (others are a 404)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from certctl.api.errors import Conflict
from certctl.api.pagination import PagePagination
from certctl.api.resources import UTCDateTimeField
from certctl.api.teams import scoped
from certificates.agents.models import AgentGroup
from certificates.agents.services import deploy, target_checks, verification
from certificates.enums import JobType, VerificationStatus
from certificates.inventory.api.serializers import TargetSerializer
from certificates.inventory.models import DeploymentTarget, ManagedCertificate
from certificates.issuance.models import Job


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


class DeployRequestSerializer(serializers.Serializer):
    target_id = serializers.CharField(max_length=40, required=False, help_text="only this mapped target")
    agent_group_id = serializers.CharField(
        max_length=40, required=False, help_text="only targets whose agent is a member of this group"
    )


class DeployResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    version_id = serializers.CharField()
    job_ids = serializers.ListField(child=serializers.CharField())
    created_job_ids = serializers.ListField(child=serializers.CharField())


class VerificationSerializer(serializers.ModelSerializer):
    job_id = serializers.CharField(source="id")
    # Plain strings: the job and target enums already have their schema components (JobSerializer, Target).
    status = serializers.CharField(help_text="the job's status")
    certificate_id = serializers.CharField()
    target_id = serializers.CharField(allow_null=True)
    version_id = serializers.CharField(allow_null=True)
    expected_fingerprint = serializers.SerializerMethodField()
    verified_at = UTCDateTimeField(allow_null=True)

    class Meta:
        model = Job
        fields = [
            "job_id",
            "status",
            "certificate_id",
            "target_id",
            "version_id",
            "expected_fingerprint",
            "verification_status",
            "verified_at",
            "verification_error",
            "verification_fingerprint",
        ]
        read_only_fields = fields

    def get_expected_fingerprint(self, job: Job) -> str:
        return job.version.fingerprint_sha256 if job.version_id else ""


class DeploymentStateSerializer(serializers.Serializer):
    job_id = serializers.CharField(source="pk")
    status = serializers.CharField()
    version_id = serializers.CharField(allow_null=True)
    fingerprint_sha256 = serializers.SerializerMethodField()
    created_at = UTCDateTimeField()
    completed_at = UTCDateTimeField(allow_null=True)
    last_error = serializers.CharField()
    verification_status = serializers.ChoiceField(choices=VerificationStatus.choices)
    verified_at = UTCDateTimeField(allow_null=True)
    verification_error = serializers.CharField()

    def get_fingerprint_sha256(self, job: Job) -> str:
        return job.version.fingerprint_sha256 if job.version_id else ""


class TargetDeploymentSerializer(TargetSerializer):
    type = serializers.CharField(read_only=True, help_text="the target type, as in Target")
    latest_deployment = serializers.SerializerMethodField()

    class Meta(TargetSerializer.Meta):
        fields = [*TargetSerializer.Meta.fields, "latest_deployment"]
        read_only_fields = fields

    @extend_schema_field(DeploymentStateSerializer(allow_null=True))
    def get_latest_deployment(self, target: DeploymentTarget) -> dict | None:
        job = self.context["latest"].get(target.pk)
        return DeploymentStateSerializer(job).data if job else None


class TargetCheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class TargetTestResponseSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checks = TargetCheckSerializer(many=True)


class DeployView(APIView):
    @extend_schema(
        request=DeployRequestSerializer,
        responses={202: DeployResponseSerializer},
        tags=["certificates"],
        summary="Deploy the newest version to the certificate's targets (or one, or an agent group's)",
    )
    def post(self, request, pk: str):
        certificate = get_object_or_404(scoped(ManagedCertificate.objects.all(), request), pk=pk)
        body = DeployRequestSerializer(data=request.data if request.data else {})
        body.is_valid(raise_exception=True)
        target_id, group_id = body.validated_data.get("target_id"), body.validated_data.get("agent_group_id")
        target = group = None
        if target_id:
            target = scoped(DeploymentTarget.objects.all(), request).filter(pk=target_id).first()
            if target is None:
                raise exceptions.NotFound(f"target {target_id} not found")
        if group_id:
            group = AgentGroup.objects.filter(pk=group_id).first()
            if group is None:
                raise exceptions.NotFound(f"agent group {group_id} not found")
        try:
            triggered = deploy.trigger(certificate, target=target, group=group, **_actor(request))
        except deploy.NothingToDeploy as exc:
            raise Conflict(str(exc)) from exc
        except deploy.DeployError as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(
            {
                "status": "deployment_triggered",
                "version_id": triggered.version.pk,
                "job_ids": triggered.job_ids,
                "created_job_ids": triggered.created,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class CertificateDeploymentsView(APIView):
    @extend_schema(
        responses=TargetDeploymentSerializer(many=True),
        tags=["certificates"],
        summary="The targets the certificate maps to, with their latest deployment and its verification",
    )
    def get(self, request, pk: str):
        certificate = get_object_or_404(scoped(ManagedCertificate.objects.all(), request), pk=pk)
        paginator = PagePagination()
        targets = scoped(certificate.targets.order_by("name", "id"), request)
        page = paginator.paginate_queryset(targets, request, self)
        latest = {row.target.pk: row.job for row in deploy.latest_deployments(certificate, page) if row.job}
        data = TargetDeploymentSerializer(page, many=True, context={"latest": latest}).data
        return paginator.get_paginated_response(data)


def _deployment_job(request, pk: str) -> Job:
    job = get_object_or_404(scoped(Job.objects.select_related("version"), request), pk=pk)
    if job.type != JobType.DEPLOYMENT:
        raise exceptions.NotFound(f"job {pk} is a {job.type} job; only deployment jobs are verified")
    return job


class JobVerifyView(APIView):
    @extend_schema(
        request=None,
        responses={200: VerificationSerializer},
        tags=["jobs"],
        summary="Verify a Completed deployment now (TLS handshake with the target's verify_endpoint)",
    )
    def post(self, request, pk: str):
        _deployment_job(request, pk)
        try:
            job = verification.verify(pk)
        except verification.NotVerifiable as exc:
            raise Conflict(str(exc)) from exc
        return Response(VerificationSerializer(_deployment_job(request, job.pk)).data)


class JobVerificationView(APIView):
    @extend_schema(
        responses={200: VerificationSerializer}, tags=["jobs"], summary="A deployment job's verification"
    )
    def get(self, request, pk: str):
        return Response(VerificationSerializer(_deployment_job(request, pk)).data)


class TargetTestView(APIView):
    @extend_schema(
        request=None,
        responses={200: TargetTestResponseSerializer},
        tags=["targets"],
        summary="Check what the server can: state, config for the type, agent online, TLS endpoint",
    )
    def post(self, request, pk: str):
        target = get_object_or_404(scoped(DeploymentTarget.objects.select_related("agent"), request), pk=pk)
        ok, checks = target_checks.check_target(target, **_actor(request))
        return Response({"ok": ok, "checks": [TargetCheckSerializer(c).data for c in checks]})
