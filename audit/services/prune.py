"""Retention: delete the oldest part of the audit trail, as an audited act, with a role allowed to.

The append-only trigger refuses DELETE for every role. A role that owns the table (or a superuser) may lift it:
this service disables the trigger, deletes and re-enables it inside one transaction, so no other session ever
sees it disabled. The application's own role should not own the table (docs/audit.md), so it cannot prune.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from audit.services import chain
from audit.services.record import record
from audit.services.verify import PRUNED_ACTION

TRIGGER = "audit_append_only"


class PruneNotAllowed(Exception):
    """The database role in use cannot lift the append-only trigger."""


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


def prune(before: datetime, *, actor: str, dry_run: bool = False, now: datetime | None = None) -> PruneResult:
    """Delete the chain prefix older than `before`; the chain stays verifiable from the kept rows.

    Pending rows are sealed first. Only a prefix is cut (rows `seq < first_kept_seq`, where `first_kept_seq` is
    the first sealed row at or after `before`), so an old row sealed after a newer one is kept, not left as a hole. The prune itself is
    recorded as `audit_pruned` with the hash the first kept row chains to (`anchor_hash`).
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
        record(
            PRUNED_ACTION,
            resource_type="audit",
            resource_id=f"before:{before.isoformat()}",
            actor=actor,
            actor_type=ActorType.USER,
            details={
                "before": before.isoformat(),
                "deleted": deleted,
                "first_kept_seq": first_kept_seq,
                "anchor_hash": anchor,
            },
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
