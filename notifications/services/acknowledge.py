"""Acknowledging critical alerts: API, admin action and signed one-click links (owner: helper D)."""

from __future__ import annotations


def ack_url(event) -> str | None:
    """The signed one-click acknowledgement link for an unacknowledged critical alert, or None."""
    return None
