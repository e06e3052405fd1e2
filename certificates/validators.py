"""Validation of renewal-policy alert settings and profile rules, shared by the model, the API and the admin."""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

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
    """Tier → list of channel names (the environment's destinations) or destination ids or names."""
    if not isinstance(value, dict):
        raise ValidationError("alert_channels must be an object mapping a tier to a list of channels")
    tiers = set(SeverityTier.values)
    for tier, names in value.items():
        if tier not in tiers:
            raise ValidationError(
                f"unknown severity tier {tier!r} in alert_channels (valid: {', '.join(sorted(tiers))})"
            )
        if not isinstance(names, list):
            raise ValidationError(f"alert_channels[{tier!r}] must be a list of channel names")
        _validate_destination_refs(names, f"alert_channels[{tier!r}]")
        if len(set(names)) != len(names):
            raise ValidationError(f"alert_channels[{tier!r}] repeats a channel")


def _validate_destination_refs(names: list, where: str) -> None:
    """Each entry is a channel name (Email, Slack, ...) or the id or name of an existing destination."""
    from notifications.models import Destination  # the table, read only when a policy is validated

    refs = [name for name in names if not (isinstance(name, str) and name in Channel.values)]
    for name in refs:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"{where}: {name!r} is not a channel or destination name")
    if not refs:
        return
    known = set()
    for dest_id, dest_name in Destination.objects.filter(Q(id__in=refs) | Q(name__in=refs)).values_list(
        "id", "name"
    ):
        known.update((dest_id, dest_name))
    for name in refs:
        if name not in known:
            raise ValidationError(
                f"unknown channel or destination {name!r} in {where} "
                f"(channels: {', '.join(Channel.values)}; or a destination's id or name)"
            )


def validate_tiers(value: Any) -> None:
    if not isinstance(value, list) or any(tier not in SeverityTier.values for tier in value):
        raise ValidationError(f"must be a list of severity tiers ({', '.join(SeverityTier.values)})")
    if len(set(value)) != len(value):
        raise ValidationError("repeats a tier")


def validate_escalation_steps(value: Any) -> None:
    """A list of at most 5 steps, each a non-empty list of destinations (or channel names)."""
    if not isinstance(value, list) or len(value) > 5:
        raise ValidationError("escalation_steps must be a list of at most 5 steps")
    for index, step in enumerate(value):
        if not isinstance(step, list) or not step:
            raise ValidationError(f"escalation_steps[{index}] must be a non-empty list of destinations")
        _validate_destination_refs(step, f"escalation_steps[{index}]")


def validate_quiet_hours(start: Any, end: Any) -> None:
    """Quiet hours need both bounds (or neither), and two different times (the window may wrap midnight)."""
    if (start is None) != (end is None):
        missing = "quiet_hours_end" if end is None else "quiet_hours_start"
        raise ValidationError({missing: "set both quiet_hours_start and quiet_hours_end, or neither"})
    if start is not None and start == end:
        raise ValidationError({"quiet_hours_end": "must differ from quiet_hours_start"})


def validate_timezone(value: Any) -> None:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {value!r} (e.g. UTC, Europe/Berlin)") from None


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
