"""Issuance admin forms: issuers, whose `config` is public and whose `secrets` are write-only."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from certctl.kernel.crypto import DecryptionError, decrypt_json
from certctl.kernel.secret_keys import secret_looking_keys, secret_message
from certificates.enums import IssuerType
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.config import config_problems as acme_config_problems
from certificates.issuance.issuers.registry import public_config_problems


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: neither what is stored nor what was just submitted."""

    def format_value(self, value: Any) -> None:
        return None


class IssuerAdminForm(forms.ModelForm):
    """Public `config` holds only the keys the issuer type declares public and nothing that looks like a
    credential, as in the API; `secrets` is write-only and never shown."""

    secrets = forms.JSONField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
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
            raise ValidationError([secret_message(path) for path in found])
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

    def clean(self) -> dict:
        cleaned = super().clean()
        if "config" in cleaned and cleaned.get("type"):
            for problem in public_config_problems(cleaned["type"], cleaned["config"]).values():
                self.add_error("config", problem)
        if cleaned.get("type") == IssuerType.ACME and "config" in cleaned and "secrets" in cleaned:
            self._check_acme(cleaned["config"], cleaned["secrets"])
        return cleaned

    def _check_acme(self, config: dict, secrets: dict | None) -> None:
        """The API's checks of an ACME config plus what the admin can say field by field: HTTPS, the contact
        e-mail, and External Account Binding's key id (config) and HMAC key (secrets) both or neither."""
        problems = acme_config_problems(config)
        url = urlsplit(config["directory_url"]) if isinstance(config.get("directory_url"), str) else None
        if url is not None and url.scheme == "http" and not _is_loopback(url.hostname):
            problems.append("directory_url must use https: ACME servers speak only HTTPS (RFC 8555 6.1)")
        email = config.get("contact_email")
        if isinstance(email, str) and email:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(f"contact_email {email!r} is not an e-mail address")
        hmac_key = self._eab_hmac_key(secrets)
        if config.get("eab_kid") and not hmac_key:
            self.add_error("secrets", 'eab_kid needs its eab_hmac_key: add {"eab_hmac_key": "..."} here')
        if hmac_key and not config.get("eab_kid"):
            problems.append("eab_hmac_key (in secrets) needs its eab_kid here; remove both to go without EAB")
        sent_key = (secrets or {}).get("eab_hmac_key")
        if isinstance(sent_key, str) and not _is_base64url(sent_key):
            self.add_error("secrets", "eab_hmac_key must be the base64url value the CA gave you")
        for problem in problems:
            self.add_error("config", problem)

    def _eab_hmac_key(self, secrets: dict | None) -> str:
        """The HMAC key the issuer will have after this save: the one submitted, else the stored one."""
        if secrets and "eab_hmac_key" in secrets:
            return secrets["eab_hmac_key"] or ""
        if not self.instance.encrypted_config:
            return ""
        try:
            return decrypt_json(self.instance.encrypted_config).get("eab_hmac_key") or ""
        except DecryptionError:
            return ""


def _is_loopback(host: str | None) -> bool:
    """A CA on this machine (a test server) may be spoken to over plain HTTP."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _is_base64url(value: str) -> bool:
    try:
        return bool(base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True))
    except (binascii.Error, ValueError):
        return False
