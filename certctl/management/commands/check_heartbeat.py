"""`manage.py check_heartbeat worker|beat`: exit 1 when that process has not been seen recently (container healthchecks)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from certctl.models import ProcessHeartbeat
from certctl.services import heartbeat


class Command(BaseCommand):
    help = "Fail when the worker or beat heartbeat is missing or older than --max-age seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=ProcessHeartbeat.Kind.values)
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="seconds; default three heartbeat intervals (CERTCTL_HEARTBEAT_INTERVAL)",
        )

    def handle(self, *args, kind: str, max_age: float | None, **options) -> None:
        limit = max_age if max_age is not None else heartbeat.stale_after()
        age = heartbeat.ages()[kind]
        if age is None:
            raise CommandError(f"no {kind} heartbeat yet")
        if age > limit:
            raise CommandError(f"{kind} heartbeat is {age:.0f}s old (limit {limit:.0f}s)")
        self.stdout.write(f"{kind} heartbeat {age:.0f}s old")
