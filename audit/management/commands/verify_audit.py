"""`manage.py verify_audit`: recompute the audit hash chain and report the first broken link (exit 1)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.services.chain import seal
from audit.services.verify import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; prints the head hash to keep outside the database."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seal", action="store_true", help="Chain the rows not sealed yet before verifying"
        )
        parser.add_argument(
            "--expect",
            action="append",
            default=[],
            metavar="SEQ:HASH",
            help="A head printed by an earlier run and kept outside the database; the chain must pass through it "
            "(repeatable). Catches a rewritten or truncated tail.",
        )

    def handle(self, *args, **options):
        expected = {}
        for item in options["expect"]:
            seq, _, digest = item.partition(":")
            if not seq.isdigit() or len(digest) != 64:
                raise CommandError(f"--expect {item!r}: use SEQ:HASH with the 64-hex head hash")
            expected[int(seq)] = digest.lower()
        if options["seal"]:
            seal()
        result = verify_chain(expected)
        if not result.ok:
            event = f" (event {result.broken_id})" if result.broken_id else ""
            raise CommandError(
                f"audit chain BROKEN at seq {result.broken_seq}{event}: {result.reason}; "
                f"{result.checked} rows verified"
            )
        pending = f"; {result.unsealed} newer rows not sealed yet" if result.unsealed else ""
        if result.checked == 0:
            self.stdout.write(f"audit chain empty: nothing to verify{pending}")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {result.checked} rows, seq {result.first_seq}..{result.last_seq}, "
                f"head {result.last_seq}:{result.head_hash}{pending}"
            )
        )
