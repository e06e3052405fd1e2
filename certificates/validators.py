"""Validation of renewal-policy alert settings and profile rules, shared by the model, the API and the admin."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.core.exceptions import ValidationError

from certificates.enums import EKU_NAMES, KEY_ALGORITHMS
from notifications.enums import Channel, SeverityTier

MIN_KEY_SIZES = {"RSA": 2048, "ECDSA": 256, "Ed25519": 0}


def is_day_count(text: str) -> bool:
    """ASCII digits only: `str.isdigit()` also accepts '²' or '٣', which int() rejects or reads surprisingly."""
    return text.isascii() and text.isdigit()


def validate_thresholds(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("alert_thresholds_days must be a non-empty list of whole days")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 365:
            raise ValidationError(
                f"alert threshold {item!r} must be a whole number of days between 0 and 365"
            )
    if len(set(value)) != len(value):
        raise ValidationError("alert_thresholds_days must not repeat a threshold")


def validate_alert_channels(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("alert_channels must be an object mapping a tier to a list of channels")
    tiers = set(SeverityTier.values)
    channels = set(Channel.values)
    for tier, names in value.items():
        if tier not in tiers:
            raise ValidationError(
                f"unknown severity tier {tier!r} in alert_channels (valid: {', '.join(sorted(tiers))})"
            )
        if not isinstance(names, list):
            raise ValidationError(f"alert_channels[{tier!r}] must be a list of channel names")
        for name in names:
            if not isinstance(name, str) or name not in channels:
                raise ValidationError(
                    f"unknown channel {name!r} in alert_channels[{tier!r}] (valid: {', '.join(Channel.values)})"
                )
        if len(set(names)) != len(names):
            raise ValidationError(f"alert_channels[{tier!r}] repeats a channel")


def validate_severity_map(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("alert_severity_map must be an object mapping threshold days to a tier")
    for key, tier in value.items():
        if not is_day_count(str(key)) or not 0 <= int(key) <= 365:
            raise ValidationError(f"alert_severity_map key {key!r} must be a threshold in days (0..365)")
        if tier not in SeverityTier.values:
            raise ValidationError(
                f"unknown severity tier {tier!r} for threshold {key} (valid: {', '.join(SeverityTier.values)})"
            )


def validate_key_algorithms(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("allowed_key_algorithms must be a non-empty list of {algorithm, min_size}")
    for item in value:
        if not isinstance(item, dict) or item.get("algorithm") not in KEY_ALGORITHMS:
            raise ValidationError(f"key algorithm must be one of {', '.join(KEY_ALGORITHMS)}: {item!r}")
        size = item.get("min_size", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < MIN_KEY_SIZES[item["algorithm"]]:
            raise ValidationError(
                f"{item['algorithm']} min_size must be at least {MIN_KEY_SIZES[item['algorithm']]}, got {size!r}"
            )


def validate_ekus(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("allowed_ekus must be a list")
    for name in value:
        if name not in EKU_NAMES:
            raise ValidationError(f"unknown EKU {name!r} (valid: {', '.join(EKU_NAMES)})")


def validate_regex_list(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("required_san_patterns must be a list of regular expressions")
    for pattern in value:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ValidationError(f"invalid regular expression {pattern!r}: {exc}") from exc


def validate_string_list(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of strings")


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _is_hostname(value: str) -> bool:
    name = value[2:] if value.startswith("*.") else value
    name = name.removesuffix(".")
    return bool(name) and all(_HOST_LABEL.match(label) for label in name.split("."))


def validate_common_name(value: Any) -> None:
    """A common name is a hostname (optionally `*.` wildcard), an IP address or an e-mail address, ≤253 chars."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("common_name is required")
    if len(value) > 253:
        raise ValidationError("common_name must be at most 253 characters")
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    if _is_hostname(value):
        return
    if _EMAIL.match(value) and _is_hostname(value.rsplit("@", 1)[1]):
        return
    raise ValidationError(f"common_name {value!r} must be a hostname, an IP address or an e-mail address")
