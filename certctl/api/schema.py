"""OpenAPI document hooks."""

from __future__ import annotations


def strip_optional_slash(endpoints):
    """The router accepts an optional trailing slash; document the canonical paths without it."""
    return [
        (path.rstrip("/") if path.endswith("/") and path != "/" else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]
