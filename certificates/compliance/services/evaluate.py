"""Judge certificates against the enabled compliance rules; open, refresh and resolve their violations."""

from __future__ import annotations

from collections.abc import Iterable


def evaluate_discovered(certificate_ids: Iterable[str]) -> int:
    """Re-judge these discovered certificates; returns the number of violations opened. (Filled in by its issue.)"""
    return 0


def evaluate_managed(certificate_ids: Iterable[str]) -> int:
    """Re-judge these managed certificates' current versions; returns the number of violations opened."""
    return 0
