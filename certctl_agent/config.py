"""Agent configuration: a TOML file, then CERTCTL_* environment variables on top (the environment wins)."""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

ENV_VARS = {
    "server_url": "CERTCTL_SERVER_URL",
    "bootstrap_token": "CERTCTL_AGENT_BOOTSTRAP_TOKEN",
    "name": "CERTCTL_AGENT_NAME",
    "state_dir": "CERTCTL_AGENT_STATE_DIR",
    "poll_interval": "CERTCTL_AGENT_POLL_INTERVAL",
    "heartbeat_interval": "CERTCTL_AGENT_HEARTBEAT_INTERVAL",
    "max_backoff": "CERTCTL_AGENT_MAX_BACKOFF",
    "ca_bundle": "CERTCTL_SERVER_CA_BUNDLE",
    "allowed_dirs": "CERTCTL_AGENT_ALLOWED_DIRS",
    "allowed_commands": "CERTCTL_AGENT_ALLOWED_COMMANDS",
    "command_timeout": "CERTCTL_AGENT_COMMAND_TIMEOUT",
    "request_timeout": "CERTCTL_AGENT_REQUEST_TIMEOUT",
    "discovery_dirs": "CERTCTL_DISCOVERY_DIRS",
    "discovery_interval": "CERTCTL_DISCOVERY_INTERVAL",
}
NUMBERS = {
    "poll_interval", "heartbeat_interval", "max_backoff", "command_timeout", "request_timeout", "discovery_interval",
}  # fmt: skip
LISTS = {"allowed_dirs", "allowed_commands", "discovery_dirs"}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TEXTS = set(ENV_VARS) - NUMBERS - LISTS


class ConfigError(Exception):
    pass


@dataclass
class AgentConfig:
    server_url: str = "https://localhost:8443"
    bootstrap_token: str = field(default="", repr=False)
    name: str = field(default_factory=socket.gethostname)
    state_dir: Path = Path("/var/lib/certctl-agent")
    poll_interval: float = 30.0
    heartbeat_interval: float = 60.0
    max_backoff: float = 300.0
    ca_bundle: str = ""
    allowed_dirs: list[Path] = field(default_factory=list)
    allowed_commands: list[str] = field(default_factory=list)
    command_timeout: float = 120.0
    request_timeout: float = 30.0
    discovery_dirs: list[Path] = field(default_factory=list)
    discovery_interval: float = 6 * 3600.0

    def validate(self) -> AgentConfig:
        parts = urlsplit(self.server_url)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ConfigError(f"server_url must be an https:// URL, got {self.server_url!r}")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ConfigError("server_url must use https (plain http is accepted only for a loopback server)")
        for name in NUMBERS:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise ConfigError(f"ca_bundle {self.ca_bundle} is not a readable file")
        if any(not path.is_absolute() for path in self.allowed_dirs):
            raise ConfigError("allowed_dirs must be absolute paths")
        if any(not path.is_absolute() for path in self.discovery_dirs):
            raise ConfigError("discovery_dirs must be absolute paths")
        self.server_url = self.server_url.rstrip("/")
        return self


def _list(value: str, separator: str) -> list[str]:
    return [item.strip() for item in value.split(separator) if item.strip()]


def _seconds(value: object) -> float:
    """A number of seconds; from the environment also with a unit, as the reference agent takes it: 90s, 5m, 6h, 1d."""
    if isinstance(value, str) and value.strip()[-1:].lower() in UNITS:
        return float(value.strip()[:-1]) * UNITS[value.strip()[-1].lower()]
    return float(value)


def _check_types(values: dict) -> None:
    """The file's values have the types the keys take: a list given as one string would otherwise be read as a
    list of its characters, and a number where text belongs would fail far from the file."""
    for key, value in values.items():
        if key in TEXTS and not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {type(value).__name__}")
        if key in LISTS and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise ConfigError(f'{key} must be a list of strings, e.g. {key} = ["..."]')
        if key in NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{key} must be a number of seconds, got {type(value).__name__}")


def load(path: str | os.PathLike | None = None, environ: dict[str, str] | None = None) -> AgentConfig:
    """Read the TOML file (if any), apply the environment, validate."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    if path:
        try:
            with open(path, "rb") as handle:
                values.update(tomllib.load(handle))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    unknown = set(values) - set(ENV_VARS)
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
    _check_types(values)
    for key, var in ENV_VARS.items():
        raw = environ.get(var)
        if raw in (None, ""):
            continue
        if key == "allowed_dirs":
            values[key] = _list(raw, os.pathsep)
        elif key == "allowed_commands":
            values[key] = _list(raw, "\n")
        elif key == "discovery_dirs":
            values[key] = _list(raw, ",")
        else:
            values[key] = raw
    try:
        for key in NUMBERS & set(values):
            values[key] = _seconds(values[key])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"not a number: {exc}") from exc
    if "state_dir" in values:
        values["state_dir"] = Path(values["state_dir"])
    for key in ("allowed_dirs", "discovery_dirs"):
        if key in values:
            values[key] = [Path(item) for item in values[key]]
    if "allowed_commands" in values:
        values["allowed_commands"] = [str(item).strip() for item in values["allowed_commands"]]
    return AgentConfig(**values).validate()
