"""Daily digests per team (owner: helper D)."""

from __future__ import annotations


def send_due_digests(now=None) -> dict[str, int]:
    return {"sent": 0}
