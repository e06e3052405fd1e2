"""Model fields shared by certctl's apps."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


class NotNullJSONFormField(forms.JSONField):
    """The form field of a JSON column that cannot hold NULL.

    Django's JSON form field turns both a blank input and the JSON literal `null` into None, which a NOT NULL column
    refuses only at the INSERT (an IntegrityError, a 500 in the admin), and reads `1e309` or `NaN` as a float, and
    `"\\u0000"` as a NUL character, that PostgreSQL's json type refuses likewise. Here a blank optional field is the
    column's empty default ({} or []), and `null`, a non-finite number or a NUL character is a form error like any
    other invalid value."""

    def __init__(self, *, blank_value, **kwargs) -> None:
        super().__init__(**kwargs)
        self.blank_value = blank_value

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return None if self.required else self.blank_value()
        converted = super().to_python(value)
        if converted is None:
            raise ValidationError("null is not allowed here; leave the field empty instead", code="null")
        try:
            json.dumps(converted, allow_nan=False)
        except ValueError as exc:
            raise ValidationError(
                "numbers must be finite (JSON has no NaN or Infinity)", code="invalid"
            ) from exc
        if _has_nul(converted):
            raise ValidationError("text cannot contain NUL characters (\\u0000)", code="null_characters")
        return converted


def _has_nul(value) -> bool:
    """A NUL character in any string or key: PostgreSQL's json types cannot store one."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def name_problem(model: type[models.Model], value: str, field: str = "name") -> str | None:
    """Why `value` cannot be stored in `model.field`, a required CharField: blank, too long or with a NUL
    character (PostgreSQL refuses the last two at the INSERT); None when it can. For callers that bypass model
    forms and serializers, such as management commands."""
    limit = model._meta.get_field(field).max_length
    if not value.strip() or len(value) > limit or "\x00" in value:
        return f"must be 1 to {limit} characters, not blank"
    return None


class JSONField(models.JSONField):
    """models.JSONField whose model forms (the admin's among them) never hand the database what it refuses.

    Migrations see a plain models.JSONField: the difference is only in the form field."""

    def formfield(self, **kwargs):
        if not self.null:
            kwargs = {"form_class": NotNullJSONFormField, "blank_value": self.get_default, **kwargs}
        return super().formfield(**kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
