"""Serializer and viewset plumbing shared by the apps' resource endpoints (CRUD with 409 on conflicts, UTC times)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from certctl.api.errors import Conflict
from certctl.api.schema import PartialPutSchema
from certctl.api.teams import TeamScopedFieldsMixin


class UTCDateTimeField(serializers.DateTimeField):
    """Times go out in UTC with a `Z`, whatever CERTCTL_TIME_ZONE says."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(*args, **kwargs)


class InventorySerializer(TeamScopedFieldsMixin, serializers.ModelSerializer):
    """A ModelSerializer that leaves uniqueness to the database, so a name conflict is a 409, not a 400."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }

    # CheckConstraint name -> (field, message): the database rule, checked before the write for a clear 400.
    constraint_errors: dict[str, tuple[str, str]] = {}

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
        return fields

    def get_validators(self):
        return [v for v in super().get_validators() if not isinstance(v, UniqueTogetherValidator)]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        model = self.Meta.model
        checks = [c for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]
        if not checks:
            return attrs
        concrete = {f.name: f for f in model._meta.concrete_fields}
        candidate = copy.copy(self.instance) if self.instance is not None else model()
        for name, value in attrs.items():
            if name in concrete:
                setattr(candidate, concrete[name].attname, getattr(value, "pk", value))
        for constraint in checks:
            try:
                constraint.validate(model, candidate)
            except DjangoValidationError as exc:
                field, message = self.constraint_errors.get(
                    constraint.name, ("non_field_errors", exc.messages[0])
                )
                raise serializers.ValidationError({field: [message]}) from exc
        return attrs


def conflict_message(serializer: serializers.ModelSerializer) -> str:
    label = serializer.Meta.model._meta.verbose_name
    name = serializer.validated_data.get("name") or getattr(serializer.instance, "name", None)
    return (
        f"a {label} named {name!r} already exists" if name else f"this {label} conflicts with an existing one"
    )


class InventoryViewSet(viewsets.ModelViewSet):
    """Create, read, update (PUT is partial, as in the reference) and delete; a name clash answers 409."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    schema = PartialPutSchema()

    def update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer) -> None:
        self._save(serializer)

    def _save(self, serializer) -> None:
        self._save_with(serializer, serializer.save)

    def _save_with(self, serializer, change: Callable[[], Any]) -> Any:
        """Run `change` in a savepoint; a unique-constraint clash becomes a 409 naming the conflict."""
        try:
            with transaction.atomic():
                return change()
        except IntegrityError as exc:
            raise Conflict(conflict_message(serializer)) from exc


class StrictCharField(serializers.CharField):
    """A string that must arrive as a JSON string: `1` is not silently turned into `"1"`."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SparseFieldsMixin:
    """`?fields=id,name,expires_at` on a GET returns only those keys (as the reference); unknown names are a 400."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        raw = request.query_params.get("fields") if request is not None and request.method == "GET" else None
        if not raw:
            return fields
        wanted = [name.strip() for name in raw.split(",") if name.strip()]
        unknown = sorted(set(wanted) - fields.keys())
        if unknown:
            raise serializers.ValidationError(
                {"fields": [f"unknown field(s) {', '.join(unknown)} (valid: {', '.join(fields)})"]}
            )
        return {name: field for name, field in fields.items() if name in wanted}


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON value that must be an object."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value
