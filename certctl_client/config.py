"""Where a client finds the server and its API key: arguments, then CERTCTL_URL / CERTCTL_API_KEY, then a named
profile in ~/.config/certctl/config.toml (or $CERTCTL_CONFIG).

    [profiles.prod]
    url = "https://certctl.example.com"
    api_key = "cctl_..."        # or api_key_file = "/run/secrets/certctl"

    default_profile = "prod"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """The URL or key is missing or unusable; the message says where to set it (never the key itself)."""


@dataclass(frozen=True)
class Connection:
    url: str
    api_key: str = ""
    verify: bool | str = True  # False, True or a CA bundle path (CERTCTL_CA_BUNDLE / profile `ca_bundle`)

    def __repr__(self) -> str:  # never print the key
        return f"Connection(url={self.url!r}, api_key={'***' if self.api_key else ''!r})"


def config_path() -> Path:
    explicit = os.environ.get("CERTCTL_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "certctl" / "config.toml"


def _profile(name: str | None) -> dict:
    path = config_path()
    if not path.exists():
        if name:
            raise ConfigError(f"profile {name!r} requested but {path} does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    name = name or data.get("default_profile")
    if not name:
        return {}
    profiles = data.get("profiles", {})
    if name not in profiles or not isinstance(profiles[name], dict):
        raise ConfigError(f"no profile {name!r} in {path} (known: {', '.join(sorted(profiles)) or 'none'})")
    profile = dict(profiles[name])
    if "api_key_file" in profile and "api_key" not in profile:
        key_file = Path(str(profile["api_key_file"])).expanduser()
        try:
            profile["api_key"] = key_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"profile {name!r}: cannot read api_key_file {key_file}: {exc.strerror}"
            ) from exc
    return profile


def resolve(url: str | None = None, api_key: str | None = None, profile: str | None = None) -> Connection:
    """The connection to use: explicit values win over the environment, which wins over the profile."""
    env_profile = profile or os.environ.get("CERTCTL_PROFILE") or None
    stored = _profile(env_profile)
    chosen_url = url or os.environ.get("CERTCTL_URL") or stored.get("url") or ""
    chosen_key = api_key or os.environ.get("CERTCTL_API_KEY") or stored.get("api_key") or ""
    bundle = os.environ.get("CERTCTL_CA_BUNDLE") or stored.get("ca_bundle")
    if not chosen_url:
        raise ConfigError(
            "no server URL: pass --url, set CERTCTL_URL, or add a profile to " + str(config_path())
        )
    parts = urlsplit(chosen_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the server URL must look like https://host[:port], got {chosen_url!r}")
    return Connection(url=chosen_url.rstrip("/"), api_key=str(chosen_key), verify=bundle or True)
