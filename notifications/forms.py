"""The destination form of the admin: each kind's settings as fields, secrets as password inputs never re-rendered.

A secret left blank keeps its stored value; "clear" removes an optional one. The settings are checked by the same
service as the API (notifications.services.destinations), so a URL the SSRF rules refuse is a field error here too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from certctl.kernel.crypto import DecryptionError
from notifications.channels import targets
from notifications.enums import SeverityTier
from notifications.models import Destination
from notifications.services import destinations

MODEL_FIELDS = ["name", "kind", "team", "tiers", "is_default", "enabled"]


def setting_field_name(kind: str, setting: str) -> str:
    return f"{kind}_{setting}"


def clear_field_name(kind: str, setting: str) -> str:
    return f"{kind}_{setting}_clear"


def settings_field_names(kind: str, stored_secrets: set[str] = frozenset()) -> list[str]:
    """The form fields of a kind's settings, in the order the admin shows them."""
    names = []
    for setting in targets.KINDS[kind]:
        names.append(setting_field_name(kind, setting.name))
        if setting.secret and not setting.required and setting.name in stored_secrets:
            names.append(clear_field_name(kind, setting.name))
    return names


def stored_secret_names(destination: Destination | None) -> set[str]:
    if destination is None or destination.pk is None or destination.from_environment:
        return set()
    try:
        return set(targets.read_secrets(destination))
    except DecryptionError:  # a removed key: the secrets must be entered again, the form says "not set"
        return set()


def _form_field(setting: targets.Setting, stored: bool, host: str) -> forms.Field:
    help_text = setting.help
    if setting.secret:
        kept = f"Stored{f' (host {host})' if host and setting.type == 'url' else ''}: leave blank to keep it."
        help_text = f"{help_text} {kept if stored else 'Secret: stored encrypted, never shown again.'}"
        return forms.CharField(
            required=False,
            strip=True,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=help_text,
        )
    if setting.type == "integer":
        return forms.IntegerField(required=False, min_value=1, max_value=65535, help_text=help_text)
    if setting.type == "choice":
        return forms.ChoiceField(
            required=False,
            choices=[("", "---------"), *((c, c) for c in setting.choices)],
            help_text=help_text,
        )
    if setting.type == "emails":
        return forms.CharField(
            required=False,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text=f"{help_text} One per line.",
        )
    return forms.CharField(required=False, help_text=help_text)


class DestinationForm(forms.ModelForm):
    tiers = forms.MultipleChoiceField(
        choices=SeverityTier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Severity tiers it accepts; none ticked: every tier.",
    )

    class Meta:
        model = Destination
        fields = MODEL_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.config: dict[str, Any] = {}
        self.secrets: dict[str, Any] = {}
        changing = not self.instance._state.adding
        if changing and "kind" in self.fields:
            self.fields["kind"].disabled = True
        self.stored_secrets = stored_secret_names(self.instance) if changing else set()
        host = self._stored_host() if changing else ""
        kinds = [self.instance.kind] if changing else list(targets.KINDS)
        for kind in kinds:
            for setting in targets.KINDS[kind]:
                name = setting_field_name(kind, setting.name)
                self.fields[name] = _form_field(setting, setting.name in self.stored_secrets, host)
                if not setting.secret and changing:
                    value = (self.instance.config or {}).get(setting.name)
                    self.initial[name] = "\n".join(value) if isinstance(value, list) else value
                if setting.secret and not setting.required and setting.name in self.stored_secrets:
                    self.fields[clear_field_name(kind, setting.name)] = forms.BooleanField(
                        required=False, label=f"Clear the stored {setting.name}"
                    )

    def _stored_host(self) -> str:
        try:
            return targets.url_host(targets.read_secrets(self.instance))
        except DecryptionError:
            return ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        stored = None if self.instance._state.adding else self.instance
        kind = stored.kind if stored is not None else cleaned.get("kind")
        if kind not in targets.KINDS:
            return cleaned
        config, secrets = {}, {}
        for setting in targets.KINDS[kind]:
            value = cleaned.get(setting_field_name(kind, setting.name))
            if setting.secret:
                if cleaned.get(clear_field_name(kind, setting.name)):
                    secrets[setting.name] = None
                elif value:
                    secrets[setting.name] = value
            elif setting.type == "emails":
                addresses = [a.strip() for a in (value or "").replace(",", "\n").splitlines() if a.strip()]
                config[setting.name] = addresses or None
            else:
                config[setting.name] = None if value in ("", None) else value
        try:
            destinations.check_settings(kind, config, secrets, destination=stored)
            if cleaned.get("is_default") and cleaned.get("team") is not None:
                raise ValidationError({"is_default": ["a team's destination cannot be a default"]})
        except DecryptionError:
            self.add_error(None, "The stored secrets cannot be decrypted with CERTCTL_ENCRYPTION_KEY.")
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                field = setting_field_name(kind, key.split(".", 1)[1]) if "." in key else key
                self.add_error(field if field in self.fields else None, messages)
        self.config, self.secrets = config, secrets
        return cleaned
