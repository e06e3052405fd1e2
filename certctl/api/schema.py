"""OpenAPI document hooks."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from certctl.api.scopes import scope_for

OPERATOR_SCHEMES = ("apiKey", "staffSession")


def strip_optional_slash(endpoints):
    """The router accepts an optional trailing slash; document the canonical paths without it."""
    return [
        (path.rstrip("/") if path.endswith("/") and path != "/" else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]


class ScopedAutoSchema(AutoSchema):
    """Every operator operation says which API scope it needs: `x-required-scope` and a line in its description,
    read from the same view attributes the permission check reads (certctl.api.scopes.scope_for)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        schemes = {name for requirement in operation.get("security") or [] for name in requirement}
        if schemes & set(OPERATOR_SCHEMES):
            scope = scope_for(self.view, method)
            operation["x-required-scope"] = scope
            line = f"Scope: `{scope}`" + (" (or `admin`)" if scope != "admin" else "") + "."
            operation["description"] = f"{operation.get('description', '')}\n\n{line}".strip()
        return operation


class PartialPutSchema(ScopedAutoSchema):
    """For views whose PUT is a partial update (as in the reference), document PUT's body like PATCH's."""

    def _get_request_for_media_type(self, serializer, direction="request"):
        if self.method != "PUT":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PATCH"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PUT"


ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error", "message", "request_id"],
    "properties": {
        "error": {"type": "string", "example": "not_found"},
        "message": {"type": "string"},
        "request_id": {"type": "string"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "validation errors per field (400 only)",
        },
    },
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input (`fields` names each bad field)",
    "401": "Missing, malformed or unknown API key",
    "403": "The key is not allowed to do this",
    "404": "No such object",
    "409": "Name conflict, or the object is still referenced",
}


def add_error_responses(result, generator, request, public):
    """Document the one error envelope on every operation, with the statuses that operation can answer."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_ENVELOPE
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = []
            if method in ("post", "put", "patch") or operation.get("parameters"):
                statuses.append("400")
            if operation.get("security") != [{}] and operation.get("security"):
                statuses += ["401", "403"]
            if "{" in path:
                statuses.append("404")
            if method in ("post", "put", "patch", "delete"):
                statuses.append("409")
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(
                    status,
                    {
                        "description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result


def operator_schemes_first(result, generator, request, public):
    """Swagger UI's Authorize dialog lists schemes in document order: an operator's API key first, the agents'
    schemes after it and labelled as theirs."""
    schemes = result.get("components", {}).get("securitySchemes")
    if not schemes:
        return result
    ordered = {name: schemes[name] for name in OPERATOR_SCHEMES if name in schemes}
    for name, scheme in schemes.items():
        if name not in ordered:
            if name.startswith("agent") and not scheme.get("description", "").startswith("Agents only"):
                scheme = {**scheme, "description": f"Agents only: {scheme.get('description', '')}"}
            ordered[name] = scheme
    result["components"]["securitySchemes"] = ordered
    return result
