"""Liveness of the background processes: the worker stamps a heartbeat row when it runs the beat's heartbeat task."""

from __future__ import annotations

import socket
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from certctl.models import ProcessHeartbeat


def stamp(kind: str, now: datetime | None = None) -> None:
    ProcessHeartbeat.objects.update_or_create(
        kind=kind, defaults={"last_seen_at": now or timezone.now(), "hostname": socket.gethostname()[:255]}
    )


def ages(now: datetime | None = None) -> dict[str, float | None]:
    """Seconds since each background process was last seen (None: never)."""
    now = now or timezone.now()
    seen = {hb.kind: hb.last_seen_at for hb in ProcessHeartbeat.objects.all()}
    return {
        kind: (round((now - seen[kind]).total_seconds(), 1) if kind in seen else None)
        for kind in ProcessHeartbeat.Kind.values
    }


def stale_after() -> float:
    """Seconds after which a heartbeat is stale: three beat intervals (CERTCTL_HEARTBEAT_INTERVAL)."""
    return 3 * settings.HEARTBEAT_INTERVAL
