"""Each rule type's configuration: what it may hold, checked (and normalised) before a rule is saved."""

from __future__ import annotations

import re
from typing import Any

from certificates.compliance.models import RuleType
from certificates.inventory.models import Issuer

KNOWN_HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
KNOWN_CURVES = (
    "secp192r1",
    "secp224r1",
    "secp256r1",
    "secp384r1",
    "secp521r1",
    "secp256k1",
    "brainpoolP256r1",
    "brainpoolP384r1",
    "brainpoolP512r1",
)
CURVE_ALIASES = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1", "p-521": "secp521r1"}
FIELDS = {
    RuleType.MIN_KEY_SIZE: ("rsa", "ec"),
    RuleType.ALLOWED_CURVES: ("curves",),
    RuleType.FORBIDDEN_SIGNATURE_ALGORITHMS: ("hashes",),
    RuleType.MAX_VALIDITY: ("days",),
    RuleType.ALLOWED_ISSUERS: ("issuers", "issuer_ids"),
    RuleType.REQUIRED_SAN_PATTERN: ("patterns",),
    RuleType.EXPIRED: (),
    RuleType.SELF_SIGNED: (),
    RuleType.CHAIN_PROBLEM: (),
}


class ConfigError(ValueError):
    """A rule configuration that does not fit its type: `errors` maps `config.<field>` to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def clean_config(rule_type: str, config: Any) -> dict:
    """The normalised configuration of a `rule_type` rule, or ConfigError naming each bad field."""
    if rule_type not in FIELDS:
        raise ConfigError({"type": [f"unknown rule type {rule_type!r}"]})
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError({"config": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    allowed = FIELDS[rule_type]
    for key in config:
        if key not in allowed:
            expected = ", ".join(allowed) if allowed else "nothing (use {})"
            errors[f"config.{key}"] = [f"unknown field for {rule_type}; it takes {expected}"]
    cleaned: dict[str, Any] = {}
    for key in allowed:
        if key in config:
            try:
                cleaned[key] = _CLEANERS[key](config[key])
            except ValueError as exc:
                errors[f"config.{key}"] = [str(exc)]
    if not errors:
        _check_required(rule_type, cleaned, errors)
    if errors:
        raise ConfigError(errors)
    return cleaned


def _check_required(rule_type: str, cleaned: dict, errors: dict[str, list[str]]) -> None:
    if rule_type == RuleType.MIN_KEY_SIZE:
        if not cleaned:
            errors["config"] = ["give at least one of rsa (bits) and ec (bits)"]
    elif rule_type == RuleType.ALLOWED_ISSUERS:
        if not (cleaned.get("issuers") or cleaned.get("issuer_ids")):
            errors["config"] = ["give at least one of issuers (issuer DNs or parts of them) and issuer_ids"]
        elif cleaned.get("issuer_ids"):
            known = set(Issuer.objects.filter(pk__in=cleaned["issuer_ids"]).values_list("pk", flat=True))
            unknown = [pk for pk in cleaned["issuer_ids"] if pk not in known]
            if unknown:
                errors["config.issuer_ids"] = [f"no such issuer: {', '.join(unknown)}"]
    else:
        for key in FIELDS[rule_type]:
            if key not in cleaned:
                errors[f"config.{key}"] = ["this field is required"]


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return value


def _strings(value: Any, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError("must be a list of non-empty strings")
    if not value and not allow_empty:
        raise ValueError("must not be empty")
    return list(dict.fromkeys(item.strip() for item in value))


def _curves(value: Any) -> list[str]:
    names = []
    lowered = {name.lower(): name for name in KNOWN_CURVES}
    for item in _strings(value):
        name = lowered.get(CURVE_ALIASES.get(item.lower(), item.lower()))
        if name is None:
            raise ValueError(
                f"unknown curve {item!r}; known: {', '.join(KNOWN_CURVES)} (or P-256, P-384, P-521)"
            )
        names.append(name)
    return list(dict.fromkeys(names))


def _hashes(value: Any) -> list[str]:
    names = [item.lower().replace("-", "") for item in _strings(value)]
    unknown = [name for name in names if name not in KNOWN_HASHES]
    if unknown:
        raise ValueError(f"unknown hash {unknown[0]!r}; known: {', '.join(KNOWN_HASHES)}")
    return names


def _patterns(value: Any) -> list[str]:
    patterns = _strings(value)
    for pattern in patterns:
        if pattern.startswith("re:"):
            try:
                re.compile(pattern[3:])
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
    return patterns


_CLEANERS = {
    "rsa": lambda v: _int(v, 512, 16384),
    "ec": lambda v: _int(v, 160, 571),
    "curves": _curves,
    "hashes": _hashes,
    "days": lambda v: _int(v, 1, 36500),
    "issuers": lambda v: _strings(v, allow_empty=True),
    "issuer_ids": lambda v: _strings(v, allow_empty=True),
    "patterns": _patterns,
}
