"""Retention: delete the oldest part of the audit trail, as an audited act, with a role allowed to.

The append-only trigger refuses DELETE for every role. A role that owns the table (or a superuser) may lift it:
this service disables the trigger, deletes and re-enables it inside one transaction, so no other session ever
sees it disabled. The application's own role should not own the table (docs/audit.md), so it cannot prune.

The `audit_pruned` event it writes is the anchor the shortened chain starts from. It carries an HMAC (keyed with
the anchor key, which the web and worker processes never hold) over the seq range deleted, the count and the hash
the first kept row chains to, so `verify_audit` accepts no hand-made anchor. The chain is verified before any row
is deleted: a prune never hides an earlier edit or gap by deleting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from audit.services import chain
from audit.services.record import record
from audit.services.verify import PRUNED_ACTION, verify_chain

TRIGGER = "audit_append_only"


class PruneNotAllowed(Exception):
    """The database role in use cannot lift the append-only trigger, or the chain to prune is already broken."""


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    first_kept_seq: int
    anchor_hash: str


def _may_lift_trigger(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class WHERE oid = %s::regclass",
            [table],
        )
        return bool(cursor.fetchone()[0])


def prune(
    before: datetime,
    *,
    actor: str,
    anchor_key: bytes,
    dry_run: bool = False,
    now: datetime | None = None,
    trusted_legacy: tuple[str, ...] = (),
) -> PruneResult:
    """Delete the chain prefix older than `before`; the chain stays verifiable from the kept rows.

    Pending rows are sealed first. Only a prefix is cut (rows `seq < first_kept_seq`, where `first_kept_seq` is
    the first sealed row at or after `before`), so an old row sealed after a newer one is kept, not left as a hole. The prune itself is
    recorded as `audit_pruned` with the seq range deleted and the hash the first kept row chains to
    (`anchor_hash`), authenticated with `anchor_key` (`anchor_mac`). Refused when the chain does not verify.
    """
    now = now or timezone.now()
    if before > now:
        raise ValueError("--before must not be in the future")
    table = AuditEvent._meta.db_table
    with transaction.atomic():
        if connection.vendor == "postgresql" and not _may_lift_trigger(table):
            raise PruneNotAllowed(
                f"the database role cannot lift the append-only trigger on {table}: run prune_audit with a "
                "role that owns the table (see docs/audit.md)"
            )
        chain.lock_chain()
        chain.seal()
        verification = verify_chain(anchor_key=anchor_key, trusted_legacy=trusted_legacy)
        if not verification.ok:
            raise PruneNotAllowed(
                f"the audit chain does not verify ({verification.reason}); nothing pruned, so the break is not "
                "deleted with the rows: investigate it with verify_audit"
            )
        tail_seq, tail_hash = chain.chain_tail()
        first_kept = (
            AuditEvent.objects.filter(seq__isnull=False, timestamp__gte=before)
            .order_by("seq")
            .values_list("seq", "prev_hash")
            .first()
        )
        first_kept_seq, anchor = first_kept if first_kept else (tail_seq + 1, tail_hash)
        deleted = AuditEvent.objects.filter(seq__lt=first_kept_seq).count()
        result = PruneResult(deleted=deleted, first_kept_seq=first_kept_seq, anchor_hash=anchor)
        if dry_run or deleted == 0:
            return result
        details = {
            "before": before.isoformat(),
            "deleted": deleted,
            "first_deleted_seq": verification.first_seq,
            "first_kept_seq": first_kept_seq,
            "anchor_hash": anchor,
        }
        details["anchor_mac"] = chain.anchor_mac(anchor_key, details)
        record(
            PRUNED_ACTION,
            resource_type="audit",
            resource_id=f"before:{before.isoformat()}",
            actor=actor,
            actor_type=ActorType.USER,
            details=details,
            now=now,
        )
        chain.seal()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGER}")
            cursor.execute(f"DELETE FROM {table} WHERE seq < %s", [first_kept_seq])  # noqa: S608 - table name from _meta
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {TRIGGER}")
    return result
