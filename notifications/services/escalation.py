"""Escalation of unacknowledged critical alerts to a policy's next step (owner: helper D)."""

from __future__ import annotations


def escalate_due(now=None) -> dict[str, int]:
    return {"escalated": 0}
