"""The few DER building blocks certctl encodes itself (CRL entries, OCSP answers): tag-length-value, INTEGER, time."""

from __future__ import annotations

from datetime import UTC, datetime


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + length(len(content)) + content


def integer(value: int) -> bytes:
    """A non-negative INTEGER (a leading zero byte when the high bit is set)."""
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def generalized_time(moment: datetime) -> bytes:
    """GeneralizedTime to the second with `Z`; a naive datetime is UTC, an aware one is converted."""
    if moment.tzinfo is not None:
        moment = _utc(moment)
    return tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def crl_time(moment: datetime) -> bytes:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after; a naive datetime is UTC."""
    if moment.tzinfo is not None:
        moment = _utc(moment)
    if 1950 <= moment.year < 2050:
        return tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def read(der: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, offset of the content, content length) of the TLV at `offset`."""
    tag, size = der[offset], der[offset + 1]
    offset += 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(der[offset : offset + count], "big")
        offset += count
    return tag, offset, size


def children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, start, end) of each TLV between start and end."""
    found = []
    while start < end:
        tag, content, size = read(der, start)
        found.append((tag, start, content + size))
        start = content + size
    return found
