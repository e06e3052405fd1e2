"""`manage.py verify_audit`: recompute the audit hash chain and report the first broken link (exit 1)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.services.verify import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; prints the head hash to keep outside the database."

    def handle(self, *args, **options):
        result = verify_chain()
        if not result.ok:
            raise CommandError(
                f"audit chain BROKEN at seq {result.broken_seq} (event {result.broken_id}): {result.reason}; "
                f"{result.checked} rows before it verified"
            )
        if result.checked == 0:
            self.stdout.write("audit chain empty: nothing to verify")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {result.checked} rows, seq {result.first_seq}..{result.last_seq}, "
                f"head {result.head_hash}"
            )
        )
