"""Expiry in the API: `POST /api/v1/admin/expiry-check` runs the check now instead of at the next beat tick;
`GET /api/v1/certificates/{id}/alert-routes` answers, per threshold, which destinations an alert goes to and why."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from audit.services.record import record
from certctl.api.scopes import ADMIN, requires_scope
from certctl.api.teams import scoped
from certificates.expiry.services.alert_routes import alert_routes
from certificates.expiry.tasks import CHECK_EXPIRING_TASK, check_expiring
from certificates.inventory.models import ManagedCertificate


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
@requires_scope(ADMIN)
@api_view(["POST"])
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


_ROUTE_DESTINATION_FIELDS = {
    "id": serializers.CharField(help_text="Destination id; empty for an unknown policy entry."),
    "name": serializers.CharField(),
    "kind": serializers.CharField(help_text="email, webhook, slack, teams, pagerduty, opsgenie"),
    "source": serializers.ChoiceField(["policy", "owner", "team", "default"], help_text="The route."),
    "reason": serializers.CharField(help_text='Why it is considered, e.g. "team Payments".'),
    "included": serializers.BooleanField(),
    "skipped_reason": serializers.CharField(help_text="Why it is not sent to (empty when included)."),
    "recipient": serializers.CharField(),
    "deferred_until": serializers.DateTimeField(
        allow_null=True, help_text="Held by the team's quiet hours until then (non-critical alerts)."
    ),
}
_THRESHOLD_FIELDS = {
    "days": serializers.IntegerField(help_text="Threshold in days; -1 is the EXPIRED alert."),
    "label": serializers.CharField(help_text='"7 days" or "expired"'),
    "tier": serializers.CharField(),
    "fired": serializers.BooleanField(help_text="Reached now (days left ≤ threshold, or expired)."),
    "destinations": inline_serializer("AlertRouteDestination", _ROUTE_DESTINATION_FIELDS, many=True),
}
ALERT_ROUTES = inline_serializer(
    "AlertRoutes",
    {
        "certificate_id": serializers.CharField(),
        "expires_at": serializers.DateTimeField(allow_null=True),
        "days_left": serializers.IntegerField(allow_null=True),
        "checked_at": serializers.DateTimeField(),
        "policy": inline_serializer(
            "AlertRoutesPolicy", {"id": serializers.CharField(), "name": serializers.CharField()}
        ),
        "team": inline_serializer(
            "AlertRoutesTeam", {"id": serializers.CharField(), "name": serializers.CharField()}
        ),
        "owner_email": serializers.CharField(),
        "quiet_hours": inline_serializer(
            "AlertRoutesQuietHours",
            {
                "configured": serializers.BooleanField(),
                "start": serializers.CharField(allow_null=True, help_text="HH:MM local"),
                "end": serializers.CharField(allow_null=True),
                "timezone": serializers.CharField(),
                "active": serializers.BooleanField(),
                "until": serializers.DateTimeField(allow_null=True),
            },
        ),
        "digest_enabled": serializers.BooleanField(),
        "resolution_order": serializers.ListField(child=serializers.CharField()),
        "rules": serializers.ListField(child=serializers.CharField()),
        "thresholds": inline_serializer("AlertRouteThreshold", _THRESHOLD_FIELDS, many=True),
    },
)


@extend_schema(
    responses={200: ALERT_ROUTES},
    tags=["certificates"],
    summary="Where this certificate's expiry alerts go, per threshold, and why",
    description="Resolution order: the policy's alert_channels for the tier, the owner's email (policy "
    "alert_owner_tiers), the team's destinations, then the default destinations when none of those applies. "
    "Each destination is listed once per threshold, included or skipped with a reason (docs/expiry-alerts.md).",
)
@api_view(["GET"])
def certificate_alert_routes(request, pk: str):
    certificate = get_object_or_404(
        scoped(ManagedCertificate.objects.select_related("renewal_policy", "team", "owner"), request), pk=pk
    )
    return Response(alert_routes(certificate, timezone.now()))
