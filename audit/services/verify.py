"""Walk the hash chain and report the first broken link; authenticate the prune anchors the chain starts from."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from audit.models import AuditEvent
from audit.services import chain

PRUNED_ACTION = "audit_pruned"
KEY_HINT = "set CERTCTL_AUDIT_ANCHOR_KEY or pass --anchor-key-file (docs/audit.md, 'Retention')"


@dataclass
class Verification:
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_hash: str = chain.GENESIS_HASH
    broken_seq: int | None = None
    broken_id: str = ""
    reason: str = ""
    unsealed: int = 0
    anchors: int = 0

    @property
    def ok(self) -> bool:
        return not self.reason


def _anchor_rows() -> list[dict[str, Any]]:
    return list(
        AuditEvent.objects.filter(action=PRUNED_ACTION, seq__isnull=False)
        .order_by("seq")
        .values("id", "seq", "details")
    )


class _AnchorRefused(Exception):
    def __init__(self, reason: str, row: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.row = reason, row


def _latest_anchor(
    rows: list[dict[str, Any]], key: bytes | None, trusted_legacy: Collection[str]
) -> dict[str, Any] | None:
    """The fields of the latest prune anchor (None without one); raises _AnchorRefused unless every
    `audit_pruned` row is a genuine, consistent anchor.

    Genuine: its MAC verifies with the anchor key (or, for an anchor written before anchors carried one, the
    operator vouched for its id). Consistent: it deleted exactly `first_kept_seq - first_deleted_seq` rows, and
    each prune starts where the one before it ended (the anchors still present are the latest prunes, in order).
    """
    if rows and key is None:
        raise _AnchorRefused(
            f"{len(rows)} audit_pruned anchors cannot be authenticated without the anchor key: {KEY_HINT}"
        )
    previous: dict[str, Any] | None = None
    for row in rows:
        details = dict(row["details"] or {})
        if "anchor_mac" not in details and row["id"] in trusted_legacy:
            details.setdefault(
                "first_deleted_seq", _int(details.get("first_kept_seq")) - _int(details.get("deleted"))
            )
        elif "anchor_mac" not in details:
            raise _AnchorRefused(
                f"audit_pruned event {row['id']} carries no anchor MAC (forged, or written before anchors were "
                f"authenticated: pass --trust-legacy-anchor {row['id']} once you know it is a prune you ran)",
                row,
            )
        elif not chain.anchor_mac_ok(key, details):
            raise _AnchorRefused(
                f"audit_pruned event {row['id']} is not authenticated by the anchor key (forged anchor)", row
            )
        first_deleted, first_kept, deleted = (
            _int(details.get(name)) for name in ("first_deleted_seq", "first_kept_seq", "deleted")
        )
        if (
            first_deleted < 1
            or deleted < 1
            or first_kept - first_deleted != deleted
            or row["seq"] < first_kept
        ):
            raise _AnchorRefused(
                f"audit_pruned event {row['id']}: its counts do not match (deleted {deleted} rows, "
                f"seq {first_deleted}..{first_kept - 1})",
                row,
            )
        if previous is not None and first_deleted != previous["first_kept_seq"]:
            raise _AnchorRefused(
                f"audit_pruned event {row['id']} deleted from seq {first_deleted}, but the prune before it kept "
                f"seq {previous['first_kept_seq']} onwards",
                row,
            )
        previous = {**details, "first_kept_seq": first_kept}
    return previous


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def verify_chain(
    expected: dict[int, str] | None = None,
    *,
    anchor_key: bytes | None = None,
    trusted_legacy: Collection[str] = (),
) -> Verification:
    """Recompute every row hash in `seq` order; stop at the first row that is edited, missing or re-linked.

    A chain that starts after seq 1 must start exactly where the latest `audit_pruned` anchor says, and every
    anchor must be authenticated with `anchor_key` (only prune_audit holds it) and its counts must add up; with
    anchors present and no key the chain is reported as not verified, never silently accepted.
    `expected` maps seq -> row_hash recorded outside the database earlier (the head `verify_audit` printed):
    the chain must still pass through each of them, which catches a rewritten or truncated tail.
    """
    expected = expected or {}
    result = Verification(unsealed=chain.unsealed_count())
    anchor_rows = _anchor_rows()
    try:
        latest = _latest_anchor(anchor_rows, anchor_key, trusted_legacy)
    except _AnchorRefused as refused:
        result.reason = refused.reason
        if refused.row is not None:
            result.broken_seq, result.broken_id = refused.row["seq"], refused.row["id"]
        return result
    result.anchors = len(anchor_rows)
    expected_seq: int | None = None
    expected_prev: str | None = None
    for row in chain.iter_rows():
        seq = row["seq"]
        if expected_seq is None:
            result.first_seq = expected_seq = seq
            if latest is None:
                expected_prev = chain.GENESIS_HASH if seq == 1 else None
            elif latest["first_kept_seq"] == seq:
                expected_prev = latest.get("anchor_hash")
            else:
                return _broken(
                    result,
                    row,
                    f"the chain starts at seq {seq}, but the latest audit_pruned anchor kept seq "
                    f"{latest['first_kept_seq']} onwards (rows deleted outside prune_audit)",
                )
            if expected_prev is None:
                return _broken(
                    result, row, f"the chain starts at seq {seq} and no audit_pruned event anchors it"
                )
        if seq != expected_seq:
            return _broken(result, row, f"rows seq {expected_seq}..{seq - 1} are missing (deleted)")
        if row["prev_hash"] != expected_prev:
            return _broken(result, row, "prev_hash does not match the hash of the row before (re-linked)")
        if chain.row_hash(row) != row["row_hash"]:
            return _broken(result, row, "content does not match its row_hash (edited)")
        if seq in expected and expected[seq] != row["row_hash"]:
            return _broken(result, row, "row_hash differs from the hash recorded outside (tail rewritten)")
        expected_prev = row["row_hash"]
        expected_seq = seq + 1
        result.checked += 1
        result.last_seq = seq
        result.head_hash = row["row_hash"]
    beyond = [seq for seq in expected if seq > (result.last_seq or 0)]
    if beyond:
        result.broken_seq = min(beyond)
        result.reason = f"rows up to seq {max(beyond)} were recorded outside but are gone (tail truncated)"
    return result


def _broken(result: Verification, row: dict, reason: str) -> Verification:
    result.broken_seq = row["seq"]
    result.broken_id = row["id"]
    result.reason = reason
    return result
