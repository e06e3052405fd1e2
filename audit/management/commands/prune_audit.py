"""`manage.py prune_audit --before DATE`: retention for the audit trail (needs a table-owner role and the anchor key).

The append-only trigger refuses DELETE to every role; only a role that owns `audit_auditevent` (or a superuser)
can lift it, so run this with such a role, e.g.
`DATABASE_URL=postgres://certctl_owner@db/certctl CERTCTL_AUDIT_ANCHOR_KEY=… manage.py prune_audit --before 2025-01-01`.
The prune is recorded in the audit trail as `audit_pruned`, an anchor authenticated with the anchor key
(CERTCTL_AUDIT_ANCHOR_KEY or --anchor-key-file), which verify_audit checks. See docs/audit.md.
"""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from audit.management.anchor_key import ENV_NAME, add_key_arguments, read_anchor_key
from audit.selectors import parse_instant
from audit.services.prune import PruneNotAllowed, prune


class Command(BaseCommand):
    help = (
        "Delete audit events older than --before (ISO date or date-time), recording the prune itself as an anchor "
        "authenticated with the audit anchor key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="ISO-8601 date or date-time, e.g. 2025-01-01")
        parser.add_argument("--actor", default="", help="Who is pruning (default: cli:<OS user>)")
        parser.add_argument("--dry-run", action="store_true", help="Only report what would be deleted")
        add_key_arguments(parser)

    def handle(self, *args, **options):
        try:
            before = parse_instant("before", options["before"])
        except Exception as exc:
            raise CommandError(
                f"--before: {options['before']!r} is not an ISO-8601 date or date-time"
            ) from exc
        key = read_anchor_key(options["anchor_key_file"])
        if key is None:
            raise CommandError(
                f"prune_audit needs the audit anchor key to authenticate the anchor it writes: set {ENV_NAME} "
                "or pass --anchor-key-file"
            )
        actor = options["actor"] or f"cli:{getpass.getuser()}"
        try:
            result = prune(
                before,
                actor=actor,
                anchor_key=key,
                dry_run=options["dry_run"],
                trusted_legacy=tuple(options["trust_legacy_anchor"]),
            )
        except (PruneNotAllowed, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"{verb} {result.deleted} audit events before {before.isoformat()}; "
            f"chain now starts at seq {result.first_kept_seq}"
        )
