"""Inventory admin forms: the renewal-policy alert matrix, certificates with list inputs, targets without credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from certctl.kernel.secret_keys import secret_looking_keys
from certificates import validators
from certificates.inventory.models import DeploymentTarget, ManagedCertificate, RenewalPolicy, Team
from notifications.enums import DEFAULT_SEVERITY_MAP, Channel, DestinationSource, SeverityTier
from notifications.models import Destination

TIER_FIELD = "channels_{}"


def parse_thresholds(text: str) -> list[int]:
    """`"30, 14, 7, 0"` -> `[30, 14, 7, 0]`; a bad item raises a ValidationError naming it."""
    values = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if not validators.is_day_count(item):
            raise ValidationError(f"{item!r} is not a whole number of days")
        values.append(int(item))
    validators.validate_thresholds(values)
    return sorted(values, reverse=True)


def parse_severity_map(text: str, thresholds: list[int]) -> dict[str, str]:
    """`"30: informational, 0: critical"` -> `{"30": "informational", "0": "critical"}`."""
    mapping: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        days, sep, tier = (piece.strip() for piece in item.partition(":"))
        if not sep or not days or not tier:
            raise ValidationError(f"{item!r} must look like 'days: tier', e.g. '7: warning'")
        if days in mapping:
            raise ValidationError(f"threshold {days} is given a severity twice")
        mapping[days] = tier.lower()
    validators.validate_severity_map(mapping)
    unknown = sorted((int(d) for d in mapping if int(d) not in thresholds), reverse=True)
    if unknown:
        raise ValidationError(
            f"severity given for {', '.join(map(str, unknown))} days, which is not one of the thresholds"
        )
    return mapping


def format_severity_map(mapping: dict[str, str]) -> str:
    return ", ".join(f"{days}: {tier}" for days, tier in sorted(mapping.items(), key=lambda kv: -int(kv[0])))


def _tier_channels_field(tier: SeverityTier) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=f"{tier.label} alerts go to",
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class RenewalPolicyAdminForm(forms.ModelForm):
    """Edits `alert_thresholds_days`, `alert_severity_map` and `alert_channels` through plain fields."""

    thresholds = forms.CharField(
        label="Alert thresholds (days)",
        help_text="Comma list of days before expiry, e.g. 30, 14, 7, 0 (0 = on the day of expiry).",
    )
    severities = forms.CharField(
        label="Severity per threshold",
        required=False,
        help_text="Comma list of 'days: tier' (tiers: informational, warning, critical). "
        "A threshold left out uses the default (30 informational, 14/7 warning, 0 critical), else informational.",
    )
    custom_channels = forms.BooleanField(
        label="Custom channel matrix",
        required=False,
        help_text="Off: every tier goes to Email (the default). On: each tier goes to the channels ticked "
        "below; a tier with nothing ticked gets no alerts.",
    )

    alert_owner_tiers = forms.MultipleChoiceField(
        label="Also email the certificate owner for",
        choices=SeverityTier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = RenewalPolicy
        fields = [
            "name",
            "renewal_window_days",
            "auto_renew",
            "max_retries",
            "retry_interval_seconds",
            "escalation_after_minutes",
            "escalation_steps",
        ]

    channels_informational = _tier_channels_field(SeverityTier.INFORMATIONAL)
    channels_warning = _tier_channels_field(SeverityTier.WARNING)
    channels_critical = _tier_channels_field(SeverityTier.CRITICAL)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A tier goes to channels (their built-in destinations) or to configured destinations, stored by id.
        rows = Destination.objects.exclude(source=DestinationSource.ENVIRONMENT).values_list(
            "id", "name", "kind"
        )
        by_name = {name: dest_id for dest_id, name, _kind in rows}
        choices = [*Channel.choices, *((dest_id, f"{name} ({kind})") for dest_id, name, kind in rows)]
        for tier in SeverityTier.values:
            self.fields[TIER_FIELD.format(tier)].choices = choices
        self.initial.setdefault("alert_owner_tiers", list(self.instance.alert_owner_tiers or []))
        policy = self.instance
        self.initial.setdefault("thresholds", ", ".join(map(str, policy.alert_thresholds_days or [])))
        thresholds = {str(days) for days in policy.alert_thresholds_days or []}
        shown = policy.alert_severity_map or {
            k: v for k, v in DEFAULT_SEVERITY_MAP.items() if k in thresholds
        }
        self.initial.setdefault("severities", format_severity_map(shown))
        matrix = policy.alert_channels or {}
        self.initial.setdefault("custom_channels", bool(matrix))
        for tier in SeverityTier.values:
            refs = [by_name.get(ref, ref) for ref in matrix.get(tier, [])]
            self.initial.setdefault(TIER_FIELD.format(tier), refs)

    def clean_thresholds(self) -> list[int]:
        return parse_thresholds(self.cleaned_data["thresholds"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        thresholds = cleaned.get("thresholds")
        if thresholds is not None:
            try:
                cleaned["alert_severity_map"] = parse_severity_map(cleaned.get("severities", ""), thresholds)
            except ValidationError as exc:
                self.add_error("severities", exc)
        matrix: dict[str, list[str]] = {}
        if cleaned.get("custom_channels"):
            matrix = {
                tier: cleaned[TIER_FIELD.format(tier)]
                for tier in SeverityTier.values
                if cleaned.get(TIER_FIELD.format(tier))
            }
            if not matrix:
                self.add_error(
                    "custom_channels",
                    "Tick at least one channel, or turn the custom matrix off to send every tier to Email.",
                )
        try:
            validators.validate_alert_channels(matrix)
        except ValidationError as exc:
            self.add_error("custom_channels", exc)
        cleaned["alert_channels"] = matrix
        return cleaned

    def save(self, commit: bool = True) -> RenewalPolicy:
        policy = super().save(commit=False)
        policy.alert_thresholds_days = self.cleaned_data["thresholds"]
        policy.alert_severity_map = self.cleaned_data["alert_severity_map"]
        policy.alert_channels = self.cleaned_data["alert_channels"]
        policy.alert_owner_tiers = self.cleaned_data["alert_owner_tiers"]
        if commit:
            policy.save()
            self.save_m2m()
        return policy


class TeamAdminForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = [
            "name",
            "description",
            "quiet_hours_start",
            "quiet_hours_end",
            "timezone",
            "digest_enabled",
            "digest_hour",
            "digest_horizon_days",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            validators.validate_quiet_hours(cleaned.get("quiet_hours_start"), cleaned.get("quiet_hours_end"))
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


class DeploymentTargetAdminForm(forms.ModelForm):
    """Target config is public: credentials belong in the agent's local configuration (as the API says)."""

    class Meta:
        model = DeploymentTarget
        fields = ["name", "type", "agent", "team", "config", "enabled"]

    def clean_config(self) -> dict:
        config = self.cleaned_data.get("config") or {}
        found = secret_looking_keys(config)
        if found:
            raise ValidationError(
                f"{', '.join(found)} look like credentials: targets are deployed by their agent, "
                "so keep credentials in the agent's local configuration"
            )
        return config


def _control_characters(value: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in value)


class ManagedCertificateAdminForm(forms.ModelForm):
    """SANs one per line and tags as `key=value` lines, checked like the API checks its lists and maps."""

    sans = forms.CharField(
        required=False,
        label="SANs",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="One DNS name, IP address or e-mail address per line (besides the common name).",
    )
    tags = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="One key=value per line, e.g. service=checkout.",
    )

    class Meta:
        model = ManagedCertificate
        fields = [
            "name",
            "common_name",
            "sans",
            "environment",
            "owner",
            "team",
            "issuer",
            "renewal_policy",
            "profile",
            "targets",
            "expires_at",
            "tags",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["sans"] = "\n".join(self.instance.sans or [])
            self.initial["tags"] = "\n".join(
                f"{key}={value}" for key, value in sorted((self.instance.tags or {}).items())
            )

    def clean_sans(self) -> list[str]:
        names = []
        for line in self.cleaned_data.get("sans", "").splitlines():
            name = line.strip()
            if not name:
                continue
            if len(name) > 253 or _control_characters(name):
                raise ValidationError(
                    f"{name[:40]!r} is not a name: at most 253 characters, no control characters"
                )
            if name not in names:
                names.append(name)
        return names

    def clean_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data.get("tags", "").splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                raise ValidationError(f"line {number}: write key=value")
            if _control_characters(key + value) or len(key) > 255 or len(value) > 1024:
                raise ValidationError(f"line {number}: too long or has control characters")
            tags[key] = value
        return tags
