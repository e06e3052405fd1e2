"""Quiet hours: non-critical alerts for a team wait, as `deferred` rows, until its window ends (owner: helper C)."""

from __future__ import annotations


def release_due(now=None) -> dict[str, int]:
    """Move `deferred` rows whose `deferred_until` has come to `pending` and schedule their delivery."""
    return {"released": 0}
