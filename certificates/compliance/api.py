"""Compliance API: rules (CRUD, admin key to change them) and the violations they find.

GET/POST /api/v1/compliance/rules, GET/PATCH/DELETE /api/v1/compliance/rules/{id}
GET /api/v1/violations (filters), GET /api/v1/violations/{id}, GET /api/v1/certificates/{id}/violations
"""

from __future__ import annotations

import django_filters
from django.db import IntegrityError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from certctl.api.errors import Conflict
from certctl.api.filtering import FilterSet
from certctl.api.scopes import ADMIN
from certctl.api.teams import scoped
from certificates.compliance.models import ComplianceRule, RuleType, Severity, Violation
from certificates.compliance.serializers import RuleSerializer, ViolationSerializer
from certificates.compliance.services import rule_changes
from certificates.compliance.services.rule_config import ConfigError
from certificates.inventory.models import ManagedCertificate

STATES = (("open", "open"), ("resolved", "resolved"), ("all", "all"))


def _actor(request) -> dict[str, str]:
    return {"actor": request.user.name, "actor_type": request.user.actor_type}


def _saved(change):
    try:
        return change()
    except ConfigError as exc:
        raise ValidationError(exc.errors) from exc
    except IntegrityError as exc:
        raise Conflict("a compliance rule with this name already exists") from exc


@extend_schema(tags=["compliance"])
class RuleViewSet(viewsets.ModelViewSet):
    """Compliance rules. Changing one (admin key) re-evaluates every certificate; disabling it resolves its open
    violations; deleting it deletes its violations."""

    serializer_class = RuleSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["type", "severity", "applies_to", "enabled"]

    def get_queryset(self):
        return ComplianceRule.objects.annotate(
            open_violations=Count("violations", filter=Q(violations__resolved_at__isnull=True))
        ).order_by("name")

    write_scope = ADMIN

    def get_object(self) -> ComplianceRule:
        rule = scoped(self.get_queryset(), self.request).filter(pk=self.kwargs["pk"]).first()
        if rule is None:
            raise NotFound("Compliance rule not found")
        return rule

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = _saved(lambda: rule_changes.create_rule(dict(body.validated_data), **_actor(request)))
        return Response(
            self.get_serializer(self.get_queryset().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED
        )

    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        body = self.get_serializer(rule, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        _saved(lambda: rule_changes.update_rule(rule, dict(body.validated_data), **_actor(request)))
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request, *args, **kwargs):
        rule_changes.delete_rule(self.get_object(), **_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ViolationFilter(FilterSet):
    rule_id = django_filters.CharFilter(field_name="rule_id")
    rule_type = django_filters.ChoiceFilter(choices=RuleType.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    certificate_id = django_filters.CharFilter(field_name="certificate_id")
    discovered_certificate_id = django_filters.CharFilter(field_name="discovered_certificate_id")
    team_id = django_filters.CharFilter(field_name="team_id")
    state = django_filters.ChoiceFilter(choices=STATES, method="filter_state", help_text="default open")

    class Meta:
        model = Violation
        fields: list[str] = []

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("state"):
            queryset = queryset.filter(resolved_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@extend_schema(tags=["compliance"])
class ViolationViewSet(viewsets.ReadOnlyModelViewSet):
    """Violations, open ones by default (`state=resolved|all` for the others), newest first."""

    serializer_class = ViolationSerializer
    filterset_class = ViolationFilter

    def get_queryset(self):
        return Violation.objects.select_related("rule").order_by("-first_seen_at", "-id")

    def get_object(self) -> Violation:
        violation = scoped(self.get_queryset(), self.request).filter(pk=self.kwargs["pk"]).first()
        if violation is None:
            raise NotFound("Violation not found")
        return violation


@extend_schema(tags=["compliance"])
class CertificateViolations(generics.ListAPIView):
    """A managed certificate's violations (open by default; same filters as /violations)."""

    serializer_class = ViolationSerializer
    filterset_class = ViolationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Violation.objects.none()
        certificate = get_object_or_404(
            scoped(ManagedCertificate.objects.only("pk"), self.request), pk=self.kwargs["pk"]
        )
        return (
            Violation.objects.filter(certificate=certificate)
            .select_related("rule")
            .order_by("-first_seen_at", "-id")
        )


ID = r"(?P<pk>[^/]+)"
rules = RuleViewSet.as_view({"get": "list", "post": "create"})
rule = RuleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    re_path(r"^compliance/rules/?$", rules, name="compliance-rule-list"),
    re_path(rf"^compliance/rules/{ID}/?$", rule, name="compliance-rule-detail"),
    re_path(r"^violations/?$", ViolationViewSet.as_view({"get": "list"}), name="violation-list"),
    re_path(rf"^violations/{ID}/?$", ViolationViewSet.as_view({"get": "retrieve"}), name="violation-detail"),
    re_path(
        rf"^certificates/{ID}/violations/?$", CertificateViolations.as_view(), name="certificate-violations"
    ),
]
