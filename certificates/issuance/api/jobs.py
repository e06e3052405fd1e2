"""Jobs (read + cancel) and approval requests (read + approve/reject)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from certctl.api.errors import Conflict
from certctl.api.scopes import APPROVE
from certctl.api.teams import TeamScope
from certificates.enums import ApprovalState, JobStatus, JobType
from certificates.issuance.api import serializers as s
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services import approvals, jobs


def _choice_param(request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise exceptions.ValidationError({name: [f"{value!r} is not one of {', '.join(choices)}"]})
    return value


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=JobStatus.values),
            OpenApiParameter("type", str, enum=JobType.values),
            OpenApiParameter("certificate_id", str),
            OpenApiParameter("agent_id", str),
        ],
        tags=["jobs"],
    ),
    retrieve=extend_schema(tags=["jobs"]),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.JobSerializer
    filter_backends = [TeamScope]

    def get_queryset(self):
        qs = Job.objects.order_by("-created_at", "-pk")
        if self.action != "list":
            return qs
        status = _choice_param(self.request, "status", JobStatus.values)
        job_type = _choice_param(self.request, "type", JobType.values)
        if status:
            qs = qs.filter(status=status)
        if job_type:
            qs = qs.filter(type=job_type)
        for param in ("certificate_id", "agent_id"):
            if self.request.query_params.get(param):
                qs = qs.filter(**{param: self.request.query_params[param]})
        return qs

    @extend_schema(
        request=None, responses={200: s.JobSerializer}, tags=["jobs"], summary="Cancel an open job"
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = self.get_object()
        try:
            jobs.cancel(job, actor=request.user.name, actor_type=request.user.actor_type)
        except jobs.InvalidTransition as exc:
            raise Conflict(str(exc)) from exc
        return Response(s.JobSerializer(job).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=ApprovalState.values),
            OpenApiParameter("certificate_id", str),
            OpenApiParameter("requested_by", str),
        ],
        tags=["approvals"],
    ),
    retrieve=extend_schema(tags=["approvals"]),
)
class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ApprovalSerializer
    action_scopes = {"approve": APPROVE, "reject": APPROVE}
    filter_backends = [TeamScope]

    def get_queryset(self):
        qs = ApprovalRequest.objects.order_by("-created_at", "-pk")
        if self.action != "list":
            return qs
        state = _choice_param(self.request, "state", ApprovalState.values)
        if state:
            qs = qs.filter(state=state)
        for param in ("certificate_id", "requested_by"):
            if self.request.query_params.get(param):
                qs = qs.filter(**{param: self.request.query_params[param]})
        return qs

    def _decide(self, request, decide, action_name: str):
        approval = self.get_object()
        body = s.DecisionRequestSerializer(data=request.data if request.data else {})
        body.is_valid(raise_exception=True)
        try:
            decided = decide(
                approval,
                actor=request.user.name,
                actor_type=request.user.actor_type,
                note=body.validated_data["note"],
            )
        except approvals.SelfApprovalForbidden as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except approvals.AlreadyDecided as exc:
            raise Conflict(str(exc)) from exc
        return Response(
            {
                "id": decided.pk,
                "action": action_name,
                "decided_by": decided.decided_by,
                "state": decided.state,
                "job_id": decided.job_id,
            }
        )

    @extend_schema(
        request=s.DecisionRequestSerializer,
        responses={200: s.DecisionResponseSerializer},
        tags=["approvals"],
        summary="Approve (the requester cannot approve their own request)",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, approvals.approve, "approved")

    @extend_schema(
        request=s.DecisionRequestSerializer,
        responses={200: s.DecisionResponseSerializer},
        tags=["approvals"],
        summary="Reject (the job is cancelled)",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, approvals.reject, "rejected")
