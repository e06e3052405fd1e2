"""The rules themselves: one pure function per rule type, judging what a certificate says about itself plus what
scans saw of it. Each returns None (compliant) or (message, details).

SAN patterns (required_san_pattern): a name complies when it matches one pattern, case-insensitively. A glob
pattern's `*` stands for any run of characters within one DNS label (never a dot), so `*.example.com` matches
`www.example.com` and the wildcard name `*.example.com`, not `example.com` or `a.b.example.com`; `**` also crosses
dots (`**.example.com` matches any depth). A pattern starting `re:` is a Python regular expression searched in the
name (`re:^api-` matches names that start with `api-`). The names judged are the SANs (DNS names and IP addresses),
or the common name when there are none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from certificates.compliance.models import RuleType

Finding = tuple[str, dict] | None


@dataclass(frozen=True)
class Subject:
    """What a rule judges: the certificate's own facts and the context certctl knows about it."""

    common_name: str
    issuer_dn: str
    sans: list[str]
    not_before: datetime
    not_after: datetime
    key_algorithm: str  # RSA, ECDSA, Ed25519, Ed448, DSA, unknown
    key_size: int | None
    curve: str  # secp256r1, ... for ECDSA
    signature_hash: str  # md5, sha1, sha256, ... or "" (EdDSA, unknown)
    is_self_signed: bool
    fingerprint_sha256: str = ""
    issuer_id: str = ""  # managed certificates: the certctl issuer that issued it
    # Chain problems scans saw where this certificate is served: [(problem, endpoint label), ...]
    chain_problems: list[tuple[str, str]] = field(default_factory=list)


def _min_key_size(config: dict, subject: Subject, now: datetime) -> Finding:
    wanted = {"RSA": config.get("rsa"), "ECDSA": config.get("ec")}.get(subject.key_algorithm)
    if wanted is None or (subject.key_size or 0) >= wanted:
        return None
    label = "RSA" if subject.key_algorithm == "RSA" else "EC"
    return (
        f"{label}-{subject.key_size} key is below the minimum of {wanted} bits",
        {"key_algorithm": subject.key_algorithm, "key_size": subject.key_size, "minimum": wanted},
    )


def _allowed_curves(config: dict, subject: Subject, now: datetime) -> Finding:
    curves = config.get("curves") or []
    if subject.key_algorithm != "ECDSA" or subject.curve in curves:
        return None
    return (
        f"EC curve {subject.curve or 'unknown'} is not allowed (allowed: {', '.join(curves)})",
        {"curve": subject.curve, "allowed": curves},
    )


def _forbidden_signature(config: dict, subject: Subject, now: datetime) -> Finding:
    if not subject.signature_hash or subject.signature_hash not in (config.get("hashes") or []):
        return None
    return (
        f"signed with {subject.signature_hash.upper()}, a forbidden signature hash",
        {"signature_hash": subject.signature_hash, "forbidden": config.get("hashes")},
    )


def _max_validity(config: dict, subject: Subject, now: datetime) -> Finding:
    limit = config["days"]
    seconds = (subject.not_after - subject.not_before).total_seconds()
    if seconds <= limit * 86400:
        return None
    days = seconds / 86400
    return (
        f"valid for {days:.0f} days, more than the maximum of {limit}",
        {"validity_days": round(days, 2), "maximum_days": limit},
    )


def issuer_allowed(config: dict, issuer_dn: str, issuer_id: str) -> bool:
    """Allowed when the certctl issuer is listed, or one `issuers` entry is (part of) the issuer DN, ignoring
    case."""
    if issuer_id and issuer_id in (config.get("issuer_ids") or []):
        return True
    dn = issuer_dn.casefold()
    return any(entry.casefold() in dn for entry in config.get("issuers") or [])


def _allowed_issuers(config: dict, subject: Subject, now: datetime) -> Finding:
    if issuer_allowed(config, subject.issuer_dn, subject.issuer_id):
        return None
    return (
        f"issued by {subject.issuer_dn or 'an unnamed issuer'}, which is not an allowed issuer",
        {"issuer_dn": subject.issuer_dn, "issuer_id": subject.issuer_id or None},
    )


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern:
    if pattern.startswith("re:"):
        return re.compile(pattern[3:], re.IGNORECASE)
    parts = re.split(r"(\*\*|\*)", pattern)
    regex = "".join(".*" if p == "**" else "[^.]*" if p == "*" else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$", re.IGNORECASE)


def name_matches(name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        compiled = _compiled(pattern)
        if (compiled.search(name) if pattern.startswith("re:") else compiled.match(name)) is not None:
            return True
    return False


def _required_san_pattern(config: dict, subject: Subject, now: datetime) -> Finding:
    patterns = config.get("patterns") or []
    names = subject.sans or ([subject.common_name] if subject.common_name else [])
    outside = [name for name in names if not name_matches(name, patterns)]
    if not outside:
        return None
    return (
        f"{', '.join(outside[:5])}{' and more' if len(outside) > 5 else ''} match no allowed name pattern",
        {"names": outside, "patterns": patterns},
    )


def _expired(config: dict, subject: Subject, now: datetime) -> Finding:
    if subject.not_after > now:
        return None
    return (
        f"expired on {subject.not_after:%Y-%m-%d %H:%M} UTC",
        {"not_after": subject.not_after.isoformat()},
    )


def _self_signed(config: dict, subject: Subject, now: datetime) -> Finding:
    if not subject.is_self_signed:
        return None
    return ("self-signed: no CA vouches for it", {"issuer_dn": subject.issuer_dn})


CHAIN_WORDS = {"missing_intermediate": "a missing intermediate", "wrong_order": "a chain in the wrong order"}


def _chain_problem(config: dict, subject: Subject, now: datetime) -> Finding:
    if not subject.chain_problems:
        return None
    problems = sorted({problem for problem, _ in subject.chain_problems})
    where = sorted({label for _, label in subject.chain_problems})
    words = " and ".join(CHAIN_WORDS.get(p, p) for p in problems)
    return (
        f"served with {words} at {', '.join(where[:3])}{' and more' if len(where) > 3 else ''}",
        {"problems": problems, "endpoints": where},
    )


JUDGES: dict[str, Callable[[dict, Subject, datetime], Finding]] = {
    RuleType.MIN_KEY_SIZE: _min_key_size,
    RuleType.ALLOWED_CURVES: _allowed_curves,
    RuleType.FORBIDDEN_SIGNATURE_ALGORITHMS: _forbidden_signature,
    RuleType.MAX_VALIDITY: _max_validity,
    RuleType.ALLOWED_ISSUERS: _allowed_issuers,
    RuleType.REQUIRED_SAN_PATTERN: _required_san_pattern,
    RuleType.EXPIRED: _expired,
    RuleType.SELF_SIGNED: _self_signed,
    RuleType.CHAIN_PROBLEM: _chain_problem,
}


def judge(rule_type: str, config: dict, subject: Subject, now: datetime) -> Finding:
    """None when `subject` complies with a `rule_type` rule configured by `config`, else (message, details).
    A configuration saved before validation existed, or edited by hand, that a judge cannot read counts as
    compliant rather than stopping the sweep."""
    judge_one = JUDGES.get(rule_type)
    if judge_one is None:
        return None
    try:
        return judge_one(config if isinstance(config, dict) else {}, subject, now)
    except (KeyError, TypeError, ValueError, re.error):
        return None
