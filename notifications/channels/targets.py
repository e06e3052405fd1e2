"""What a destination needs to be delivered to: its settings per kind, validated, and resolved into a `Target`.

Every kind declares its fields once (`KINDS`): public ones live in `Destination.config`, secret ones in
`Destination.encrypted_secrets` (Fernet, `CERTCTL_ENCRYPTION_KEY`) and are never shown again. A destination from
the environment (`source=environment`) takes the same fields from the `CERTCTL_*` variables at send time, so the
channels only ever see a `Target`, whichever way it was configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from certctl.kernel import crypto
from notifications.channels import egress
from notifications.enums import (
    KIND_CHANNEL,
    DestinationKind,
    DestinationSource,
    SeverityTier,
    builtin_destination_id,
)
from notifications.models import Destination


@dataclass(frozen=True)
class Setting:
    """One field of a destination kind. `choices` limits a text; `url` must be an http(s) URL."""

    name: str
    help: str
    secret: bool = False
    required: bool = False
    type: str = "text"  # text, url, integer, emails, choice
    choices: tuple[str, ...] = ()


KINDS: dict[str, tuple[Setting, ...]] = {
    DestinationKind.EMAIL: (
        Setting("recipients", "Email addresses; empty: the certificate owner's address.", type="emails"),
        Setting("from_address", "Sender; empty: CERTCTL_SMTP_FROM_ADDRESS."),
        Setting("smtp_host", "SMTP server; empty: the CERTCTL_SMTP_* server."),
        Setting("smtp_port", "SMTP port (with smtp_host).", type="integer"),
        Setting(
            "smtp_security",
            "starttls, tls or none (with smtp_host).",
            type="choice",
            choices=("starttls", "tls", "none"),
        ),
        Setting("smtp_username", "SMTP login (with smtp_host)."),
        Setting("smtp_password", "SMTP password (with smtp_host).", secret=True),
    ),
    DestinationKind.WEBHOOK: (
        Setting(
            "url",
            "Receiver URL (its path or query may carry a token).",
            secret=True,
            required=True,
            type="url",
        ),
        Setting("hmac_secret", "Signs each body (X-Signature header).", secret=True),
        Setting(
            "signature",
            "certctl (timestamp and body) or reference (body only, Go payload); empty: CERTCTL_WEBHOOK_SIGNATURE.",
            type="choice",
            choices=("certctl", "reference"),
        ),
    ),
    DestinationKind.SLACK: (
        Setting("webhook_url", "Slack incoming-webhook URL.", secret=True, required=True, type="url"),
        Setting("channel", "Channel override, e.g. #pki."),
        Setting("username", "Sender name shown in Slack."),
    ),
    DestinationKind.TEAMS: (
        Setting(
            "webhook_url", "Teams incoming-webhook or workflow URL.", secret=True, required=True, type="url"
        ),
        Setting("format", "messagecard or adaptive.", type="choice", choices=("messagecard", "adaptive")),
    ),
    DestinationKind.PAGERDUTY: (
        Setting("routing_key", "Events API v2 integration key.", secret=True, required=True),
        Setting("events_url", "Events API URL; empty: CERTCTL_PAGERDUTY_EVENTS_URL.", type="url"),
        Setting(
            "severity",
            "Severity of events with no tier.",
            type="choice",
            choices=("critical", "error", "warning", "info"),
        ),
    ),
    DestinationKind.OPSGENIE: (
        Setting("api_key", "OpsGenie API integration key.", secret=True, required=True),
        Setting("api_url", "Alert API URL (EU: https://api.eu.opsgenie.com/v2/alerts).", type="url"),
        Setting("priority", "P1 to P5.", type="choice", choices=("P1", "P2", "P3", "P4", "P5")),
    ),
}
URL_SECRETS = frozenset({"url", "webhook_url"})


@dataclass(frozen=True)
class Target:
    """A destination ready to send to: its kind's settings, public and secret, resolved."""

    destination_id: str
    name: str
    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    from_environment: bool = False

    @property
    def channel(self) -> str:
        return KIND_CHANNEL[self.kind]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.secrets.get(name) if name in self.secrets else self.config.get(name)
        return default if value in (None, "", []) else value

    def secret_values(self) -> list[str]:
        """Every secret value: removed from any text stored or logged about this target."""
        return [value for value in self.secrets.values() if value]


def environment_settings(kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The (config, secrets) the `CERTCTL_*` variables give a kind's built-in destination."""
    s = settings
    table: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
        DestinationKind.EMAIL: (
            {
                "recipients": [],
                "from_address": s.SMTP_FROM_ADDRESS,
                "smtp_host": s.SMTP_HOST,
                "smtp_port": s.SMTP_PORT,
                "smtp_security": s.SMTP_SECURITY,
                "smtp_username": s.SMTP_USERNAME,
            },
            {"smtp_password": s.SMTP_PASSWORD},
        ),
        DestinationKind.WEBHOOK: (
            {"signature": s.WEBHOOK_SIGNATURE},
            {"url": s.WEBHOOK_URL, "hmac_secret": s.WEBHOOK_SECRET},
        ),
        DestinationKind.SLACK: (
            {"channel": s.SLACK_CHANNEL, "username": s.SLACK_USERNAME},
            {"webhook_url": s.SLACK_WEBHOOK_URL},
        ),
        DestinationKind.TEAMS: ({"format": s.TEAMS_FORMAT}, {"webhook_url": s.TEAMS_WEBHOOK_URL}),
        DestinationKind.PAGERDUTY: (
            {"events_url": s.PAGERDUTY_EVENTS_URL, "severity": s.PAGERDUTY_SEVERITY},
            {"routing_key": s.PAGERDUTY_ROUTING_KEY},
        ),
        DestinationKind.OPSGENIE: (
            {"api_url": s.OPSGENIE_API_URL, "priority": s.OPSGENIE_PRIORITY},
            {"api_key": s.OPSGENIE_API_KEY},
        ),
    }
    return table[kind]


def read_secrets(destination: Destination) -> dict[str, str]:
    """A stored destination's secrets, decrypted (raises crypto.DecryptionError on a wrong key)."""
    if not destination.encrypted_secrets:
        return {}
    value = crypto.decrypt_json(destination.encrypted_secrets)
    return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def write_secrets(destination: Destination, secrets: Mapping[str, str]) -> None:
    """Store these secrets (empty values dropped) encrypted on the unsaved row."""
    kept = {k: v for k, v in secrets.items() if v}
    destination.encrypted_secrets = crypto.encrypt_json(kept) if kept else ""


def target_for(destination: Destination) -> Target:
    if destination.from_environment:
        config, secrets = environment_settings(destination.kind)
    else:
        config, secrets = dict(destination.config or {}), read_secrets(destination)
    return Target(
        destination_id=destination.id,
        name=destination.name,
        kind=destination.kind,
        config=config,
        secrets=secrets,
        from_environment=destination.from_environment,
    )


def builtin_target(channel: str) -> Target:
    """The environment's destination for a channel name (rows written by producers that name only a channel)."""
    dest_id = builtin_destination_id(channel)
    destination = Destination.objects.filter(pk=dest_id).first()
    if destination is None:  # a database migrated without the built-in rows: still deliver as before
        kind = next(k for k, c in KIND_CHANNEL.items() if c == channel)
        destination = Destination(
            id=dest_id, name=f"{channel} (environment)", kind=kind, source="environment"
        )
    return target_for(destination)


def ensure_builtin_destinations(**kwargs) -> None:
    """Create the six environment destinations when missing (after `migrate`, and after a test flush).

    Connected to `post_migrate`, like Django's own content types: a flushed database gets them back at once.
    """
    existing = set(
        Destination.objects.filter(source=DestinationSource.ENVIRONMENT).values_list("id", flat=True)
    )
    missing = [
        Destination(
            id=builtin_destination_id(channel),
            name=f"{channel} (environment)",
            kind=kind,
            source=DestinationSource.ENVIRONMENT,
        )
        for kind, channel in KIND_CHANNEL.items()
        if builtin_destination_id(channel) not in existing
    ]
    if missing:
        Destination.objects.bulk_create(missing, ignore_conflicts=True)


def url_host(target_or_secrets: Target | Mapping[str, str]) -> str:
    """The host of the destination's URL: the one part of a secret URL that may be shown."""
    secrets = target_or_secrets.secrets if isinstance(target_or_secrets, Target) else target_or_secrets
    for name in URL_SECRETS:
        if secrets.get(name):
            return urlsplit(secrets[name]).hostname or ""
    return ""


def validate_settings(
    kind: str,
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    *,
    existing_secrets: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a destination's settings; return the (config, secrets) to store.

    A secret left out keeps its stored value (`existing_secrets`): write-only fields are re-sent only to change
    them; an empty string clears an optional one. URLs must pass the SSRF rules now (a refused host is an error
    when saved, not only when sent). Raises ValidationError with a dict of field → message.
    """
    if kind not in KINDS:
        raise ValidationError({"kind": f"unknown kind {kind!r} (valid: {', '.join(KINDS)})"})
    fields = {setting.name: setting for setting in KINDS[kind]}
    errors: dict[str, str] = {}
    for name in set(config) | set(secrets):
        setting = fields.get(name)
        if setting is None:
            errors[name] = f"not a setting of a {kind} destination (valid: {', '.join(fields)})"
        elif setting.secret and name in config:
            errors[name] = "a secret: send it under `secrets`, it is stored encrypted"
        elif not setting.secret and name in secrets:
            errors[name] = "not a secret: send it under `config`"
    clean_config: dict[str, Any] = {}
    clean_secrets: dict[str, str] = dict(existing_secrets or {})
    for setting in fields.values():
        source = secrets if setting.secret else config
        if setting.name not in source:
            continue
        value = source[setting.name]
        try:
            value = _clean(setting, value)
        except ValidationError as exc:
            errors[setting.name] = exc.messages[0]
            continue
        if setting.secret:
            clean_secrets[setting.name] = value
        elif value not in ("", None, []):
            clean_config[setting.name] = value
    for setting in fields.values():
        stored = clean_secrets if setting.secret else clean_config
        if setting.required and not stored.get(setting.name) and setting.name not in errors:
            errors[setting.name] = "required"
    if errors:
        raise ValidationError(errors)
    return clean_config, {k: v for k, v in clean_secrets.items() if v}


def _clean(setting: Setting, value: Any) -> Any:
    if setting.type == "emails":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("a list of email addresses")
        for address in value:
            validate_email(address)
        return list(dict.fromkeys(a.strip() for a in value))
    if setting.type == "integer":
        if value in ("", None):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise ValidationError("an integer from 1 to 65535")
        return value
    if not isinstance(value, str):
        raise ValidationError("a string")
    value = value.strip()
    if any(char in value for char in "\r\n\x00"):
        raise ValidationError("must be on one line")
    if not value:
        return ""
    if setting.type == "choice" and value not in setting.choices:
        raise ValidationError(f"one of {', '.join(setting.choices)}")
    if setting.type == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("an http:// or https:// URL")
        try:
            egress.vet(value, tuple(settings.NOTIFICATION_ALLOWED_NETWORKS))
        except egress.RefusedDestination as exc:
            raise ValidationError(str(exc)) from None
        except egress.UnresolvedDestination:
            pass  # DNS may be down now; the send checks again
    return value


def validate_tiers(value: Any) -> list[str]:
    if not isinstance(value, list) or any(tier not in SeverityTier.values for tier in value):
        raise ValidationError(f"a list of severity tiers ({', '.join(SeverityTier.values)})")
    return list(dict.fromkeys(value))
