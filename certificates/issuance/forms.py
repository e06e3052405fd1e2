"""Issuance admin forms: issuers, whose `config` is public and whose `secrets` are write-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from certctl.kernel.crypto import DecryptionError, decrypt_json
from certctl.kernel.secret_keys import secret_looking_keys
from certificates.inventory.models import Issuer


class IssuerAdminForm(forms.ModelForm):
    """Public `config` is checked for credentials like the API does; `secrets` is write-only and never shown."""

    secrets = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='Credentials as a JSON object, e.g. {"eab_hmac_key": "..."}. Merged into the encrypted '
        "secrets (null removes one); stored secrets are never displayed. Leave empty to keep them as they are.",
    )

    class Meta:
        model = Issuer
        fields = ["name", "type", "config", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["secrets"] = None  # write-only: never echo what is stored

    def clean_config(self) -> dict:
        config = self.cleaned_data.get("config")
        if config is None:
            return {}
        if not isinstance(config, dict):
            raise ValidationError("config must be a JSON object")
        found = secret_looking_keys(config)
        if found:
            raise ValidationError(
                f"{', '.join(found)} look like secrets: put them in 'Secrets', which is stored encrypted"
            )
        return config

    def clean_secrets(self) -> dict | None:
        secrets = self.cleaned_data.get("secrets")
        if secrets in (None, "", {}):
            return None
        if not isinstance(secrets, dict):
            raise ValidationError("secrets must be a JSON object of name: value")
        if self.instance.encrypted_config:
            try:
                decrypt_json(self.instance.encrypted_config)
            except DecryptionError as exc:
                raise ValidationError(
                    "the stored secrets were encrypted with another key: restore the old key in "
                    "CERTCTL_ENCRYPTION_KEY before changing them"
                ) from exc
        return secrets
