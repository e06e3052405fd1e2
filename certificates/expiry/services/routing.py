"""Expiry-alert settings of a policy (thresholds, tiers, owner tiers, escalation), dedup keys and the message.

Pure functions over a policy's stored JSON. The stored values are validated on write, but dispatch still reads
them defensively (old rows, raw SQL): a malformed map counts as unset and an unknown tier becomes informational.
Which destinations a tier goes to is services/routes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from certificates.validators import is_day_count
from notifications.enums import (
    DEFAULT_ALERT_THRESHOLDS,
    DEFAULT_SEVERITY_MAP,
    Channel,
    SeverityTier,
)

TIERS = frozenset(SeverityTier.values)
CHANNELS = frozenset(Channel.values)


@dataclass(frozen=True)
class PolicyRouting:
    """A renewal policy's alert settings, resolved once per check run."""

    thresholds: tuple[int, ...]
    severity_map: dict[int, str]
    channel_map: dict[str, object]
    owner_tiers: frozenset[str] = frozenset()
    escalation_after_minutes: int | None = None
    escalates: bool = False  # escalation_after_minutes and at least one step

    def escalation_due_at(self, tier: str, now: datetime) -> datetime | None:
        """When an unacknowledged alert of this tier escalates: critical alerts of an escalating policy only."""
        if tier != SeverityTier.CRITICAL or not self.escalates:
            return None
        return now + timedelta(minutes=self.escalation_after_minutes)

    @property
    def max_threshold(self) -> int:
        return max(self.thresholds)

    def tier_for(self, threshold: int, *, expired: bool = False) -> str:
        """Policy map, then the default map, then informational; an off-enum tier is coerced to informational.

        A certificate whose expiry has passed is critical whatever the map says: an outage is never informational.
        """
        if expired:
            return SeverityTier.CRITICAL
        tier = self.severity_map.get(threshold) or DEFAULT_TIERS.get(threshold) or SeverityTier.INFORMATIONAL
        return tier if tier in TIERS else SeverityTier.INFORMATIONAL


DEFAULT_TIERS = {int(days): tier for days, tier in DEFAULT_SEVERITY_MAP.items()}


def _thresholds(value: object) -> tuple[int, ...]:
    if isinstance(value, list):
        days = [d for d in value if isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 365]
        if days:
            return tuple(dict.fromkeys(days))
    return tuple(DEFAULT_ALERT_THRESHOLDS)


def _severity_map(value: object) -> dict[int, str]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for key, tier in value.items():
        # Non-integer keys are dropped (old rows, raw SQL): one bad policy must not stop the whole check.
        if is_day_count(str(key)) and isinstance(tier, str):
            out[int(key)] = tier
    return out


def policy_routing(
    alert_thresholds_days: object,
    alert_severity_map: object,
    alert_channels: object,
    *,
    owner_tiers: object = (),
    escalation_after_minutes: int | None = None,
    escalation_steps: object = (),
) -> PolicyRouting:
    """Read a policy's alert fields; anything malformed falls back to the documented default."""
    minutes = escalation_after_minutes if isinstance(escalation_after_minutes, int) else None
    return PolicyRouting(
        thresholds=_thresholds(alert_thresholds_days),
        severity_map=_severity_map(alert_severity_map),
        channel_map=alert_channels if isinstance(alert_channels, dict) else {},
        owner_tiers=frozenset(t for t in owner_tiers if t in TIERS)
        if isinstance(owner_tiers, list)
        else frozenset(),
        escalation_after_minutes=minutes,
        escalates=bool(minutes and minutes > 0 and isinstance(escalation_steps, list) and escalation_steps),
    )


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until expiry, truncated toward zero (so -0.5 days is 0 and -1.5 days is -1)."""
    return int((expires_at - now) / timedelta(days=1))


def recipient_for(channel: str, owner_email: str) -> str:
    """Email goes to the certificate owner; the other channels name their configured destination, never its URL."""
    if channel == Channel.EMAIL:
        return owner_email
    if channel == Channel.SLACK and settings.SLACK_CHANNEL:
        return settings.SLACK_CHANNEL
    return channel


def dedup_key(certificate_id: str, expires_at: datetime, threshold: int, channel: str) -> str:
    """Unique per (certificate, its current expiry, threshold, channel): a renewal's new expiry re-arms alerts."""
    return f"expiry:{certificate_id}:{expires_at.strftime('%Y%m%dT%H%M%S.%fZ')}:{threshold}:{channel}"


def admin_link(certificate_id: str) -> str:
    return f"{settings.PUBLIC_URL}/admin/certificates/managedcertificate/{certificate_id}/change/"


@dataclass(frozen=True)
class AlertText:
    subject: str
    message: str


def plural_days(days: int) -> str:
    return f"{days} day" if abs(days) == 1 else f"{days} days"


def one_line(value: str) -> str:
    """A user-controlled value on one line, so a name cannot forge extra lines ("Severity: ...") in the body."""
    return " ".join(str(value).split())


def alert_text(
    *,
    certificate_id: str,
    name: str,
    common_name: str,
    expires_at: datetime,
    now: datetime,
    days: int,
    threshold: int,
    tier: str,
    owner: str,
    team: str,
    admin_url: str = "",
) -> AlertText:
    """The subject and plain-text body every channel renders (Slack, email, PagerDuty summary, ...).

    Plain text with no markup: each channel escapes it for its own format. The threshold is data on the
    notification row (`threshold_days`), not a tag in the text. `admin_url` replaces the managed certificate's
    admin link (a discovered certificate's alert links to its own page).
    """
    name, common_name, owner, team = (one_line(v) for v in (name, common_name, owner, team))
    expiry = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if expires_at <= now:
        ago = days_left(now, expires_at)
        headline = f"certificate {name} has EXPIRED"
        left = "EXPIRED" if ago < 1 else f"EXPIRED {plural_days(ago)} ago"
    elif days == 0:
        headline, left = f"certificate {name} expires within a day", "0 (less than a day)"
    else:
        headline, left = f"certificate {name} expires in {plural_days(days)}", str(days)
    message = "\n".join(
        [
            f"[{tier.upper()}] {headline} ({expiry}).",
            "",
            f"Certificate: {name}",
            f"Common name: {common_name}",
            f"Expires: {expiry}",
            f"Days left: {left}",
            f"Owner: {owner}",
            f"Team: {team}",
            f"Severity: {tier} ({'expired' if threshold < 0 else f'threshold {plural_days(threshold)}'})",
            f"Admin: {admin_url or admin_link(certificate_id)}",
        ]
    )
    return AlertText(subject=f"[certctl] {tier}: {headline}"[:255], message=message)
