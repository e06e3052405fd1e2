"""`POST /api/v1/admin/expiry-check`: an operator asks for an expiry check now instead of at the next beat tick."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from audit.services.record import record
from certctl.api.permissions import IsAdminClient
from certificates.expiry.tasks import CHECK_EXPIRING_TASK, check_expiring


@extend_schema(
    request=None,
    responses={
        202: inline_serializer(
            "ExpiryCheckAccepted",
            {
                "status": serializers.CharField(),
                "task": serializers.CharField(),
                "task_id": serializers.CharField(),
            },
        )
    },
    tags=["admin"],
    summary="Run the expiry check now (admin key)",
)
@api_view(["POST"])
@permission_classes([IsAdminClient])
def run_expiry_check(request):
    record(
        "expiry_check_requested",
        resource_type="expiry_check",
        resource_id=CHECK_EXPIRING_TASK,
        actor=request.user.name,
        actor_type=request.user.actor_type,
    )
    task = check_expiring.delay()
    return Response(
        {"status": "accepted", "task": CHECK_EXPIRING_TASK, "task_id": task.id},
        status=status.HTTP_202_ACCEPTED,
    )
