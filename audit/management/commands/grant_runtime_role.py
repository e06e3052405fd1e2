"""`manage.py grant_runtime_role ROLE`: give the runtime role its grants after `migrate` (PostgreSQL; idempotent).

Run it as the owner role right after every `migrate` (docker-compose.yml's `migrate` service does): tables new in
this release get their grants, and the audit table keeps only SELECT, INSERT and the sealing UPDATE for ROLE.
See docs/audit.md, "Database roles".
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audit.services.runtime_role import RuntimeRoleRefused, grant_runtime_role


class Command(BaseCommand):
    help = (
        "Grant the runtime database role (web, worker, beat) read/write on the application's tables and only "
        "SELECT, INSERT and the sealing UPDATE on the audit table. Run as the owner after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the runtime role, e.g. certctl_app")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write(f"nothing to grant: {connection.vendor} has no database roles")
            return
        try:
            schema = grant_runtime_role(options["role"])
        except RuntimeRoleRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"granted {options['role']} the runtime privileges in schema {schema} "
            "(audit_auditevent: SELECT, INSERT, UPDATE of seq, prev_hash, row_hash)"
        )
