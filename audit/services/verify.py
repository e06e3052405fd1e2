"""Walk the hash chain and report the first broken link."""

from __future__ import annotations

from dataclasses import dataclass

from audit.models import AuditEvent
from audit.services import chain

PRUNED_ACTION = "audit_pruned"


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

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def _anchor(first_seq: int) -> str | None:
    """The hash the first row must chain to: genesis, or the anchor a later `audit_pruned` event recorded."""
    if first_seq == 1:
        return chain.GENESIS_HASH
    details = (
        AuditEvent.objects.filter(action=PRUNED_ACTION, details__first_kept_seq=first_seq)
        .order_by("-seq")
        .values_list("details", flat=True)
        .first()
    )
    return details.get("anchor_hash") if details else None


def verify_chain(expected: dict[int, str] | None = None) -> Verification:
    """Recompute every row hash in `seq` order; stop at the first row that is edited, missing or re-linked.

    `expected` maps seq -> row_hash recorded outside the database earlier (the head `verify_audit` printed):
    the chain must still pass through each of them, which catches a rewritten or truncated tail.
    """
    expected = expected or {}
    result = Verification(unsealed=chain.unsealed_count())
    expected_seq: int | None = None
    expected_prev: str | None = None
    for row in chain.iter_rows():
        seq = row["seq"]
        if expected_seq is None:
            result.first_seq = expected_seq = seq
            expected_prev = _anchor(seq)
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
