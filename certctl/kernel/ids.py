"""Opaque, type-prefixed, time-ordered identifiers (`cert-01J…`), so an ID in a log says what it is."""

from __future__ import annotations

import os
import time
from datetime import datetime
from functools import partial

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


# Every pair of characters (10 bits): new_id encodes its 130 bits with 13 lookups instead of 26 divmods.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def new_id(prefix: str) -> str:
    """`prefix-` + 26 characters: 48-bit millisecond time then 80 random bits (ULID layout)."""
    # The same characters as _encode(millis, 10) + _encode(randomness, 16), at a third of the cost (bulk
    # writers mint tens of thousands per statement).
    v = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    p = _PAIRS
    return (
        f"{prefix}-{p[v >> 120 & 1023]}{p[v >> 110 & 1023]}{p[v >> 100 & 1023]}{p[v >> 90 & 1023]}"
        f"{p[v >> 80 & 1023]}{p[v >> 70 & 1023]}{p[v >> 60 & 1023]}{p[v >> 50 & 1023]}{p[v >> 40 & 1023]}"
        f"{p[v >> 30 & 1023]}{p[v >> 20 & 1023]}{p[v >> 10 & 1023]}{p[v & 1023]}"
    )


def id_factory(prefix: str):
    """A default= callable for model primary keys; a partial keeps migrations serialisable."""
    return partial(new_id, prefix)


def id_floor(prefix: str, when: datetime) -> str:
    """The smallest id `new_id(prefix)` can mint at or after `when`: ids sort by creation time, so
    `pk >= id_floor(...)` reads a recent range through the primary key instead of scanning the table."""
    millis = int(when.timestamp() * 1000)
    return f"{prefix}-{_encode(millis, 10)}"
