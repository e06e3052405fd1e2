"""`manage.py verify_audit`: recompute the audit hash chain and report the first broken link (exit 1).

A chain shortened by prune_audit starts from an anchor that only the audit anchor key authenticates
(CERTCTL_AUDIT_ANCHOR_KEY or --anchor-key-file); with anchors present and no key, verification fails.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.management.anchor_key import add_key_arguments, read_anchor_key
from audit.services.chain import seal
from audit.services.verify import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain and its prune anchors; prints the head hash to keep outside the "
        "database."
    )

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
        add_key_arguments(parser)

    def handle(self, *args, **options):
        expected = {}
        for item in options["expect"]:
            seq, _, digest = item.partition(":")
            if not seq.isdigit() or len(digest) != 64:
                raise CommandError(f"--expect {item!r}: use SEQ:HASH with the 64-hex head hash")
            expected[int(seq)] = digest.lower()
        key = read_anchor_key(options["anchor_key_file"])
        if options["seal"]:
            seal()
        result = verify_chain(expected, anchor_key=key, trusted_legacy=options["trust_legacy_anchor"])
        if not result.ok:
            if result.broken_seq is None:
                raise CommandError(f"audit chain NOT VERIFIED: {result.reason}")
            event = f" (event {result.broken_id})" if result.broken_id else ""
            raise CommandError(
                f"audit chain BROKEN at seq {result.broken_seq}{event}: {result.reason}; "
                f"{result.checked} rows verified"
            )
        pending = f"; {result.unsealed} newer rows not sealed yet" if result.unsealed else ""
        if result.checked == 0:
            self.stdout.write(f"audit chain empty: nothing to verify{pending}")
            return
        anchors = f", {result.anchors} prune anchors authenticated" if result.anchors else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {result.checked} rows, seq {result.first_seq}..{result.last_seq}{anchors}, "
                f"head {result.last_seq}:{result.head_hash}{pending}"
            )
        )
