"""Reading settings from an environment mapping: typed values, and a clear ImproperlyConfigured for a bad one.

certctl/settings.py is the one place that reads the process environment; it hands `os.environ` (over the
variables `make run` recorded in the data dir, `read_env_file`) to `Environment`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Environment:
    """Typed reads of one environment mapping; each refuses a malformed value at start-up, naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default).strip()

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        value = raw.strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")

    def integer(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.environ.get(name, "").strip()
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
        return value

    def seconds(self, name: str, default: str, minimum: float = 0) -> float:
        """A duration in Go syntax (`90s`, `2m`, `1h30m`, `7d`) or plain seconds (`120`)."""
        raw = self.environ.get(name, "").strip() or default
        if raw.isdigit():
            seconds = float(raw)
        else:
            parts = _DURATION_PART.findall(raw)
            if not parts or "".join(n + u for n, u in parts) != raw:
                raise ImproperlyConfigured(f"{name} must be a duration like 90s, 2m or 1h, got {raw!r}")
            seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in parts)
        if seconds < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum} seconds, got {raw!r}")
        return seconds

    def url(self, name: str, default: str, schemes: tuple[str, ...], *, plain: bool = False) -> str:
        """An absolute URL with one of `schemes`, refused at start-up otherwise (a typo would surface much later: in a
        failed connection, or in the CRL and OCSP URLs written into every certificate the local CA issues). `plain`:
        also a host, and no query or fragment."""
        raw = self.text(name) or default
        if not raw:
            return raw
        parts = urlsplit(raw)
        usable = (
            parts.scheme in schemes and (parts.netloc or parts.path) and not any(c.isspace() for c in raw)
        )
        if plain:
            usable = usable and parts.hostname and not parts.query and not parts.fragment and _port_ok(parts)
        if not usable:
            shape = "host[:port][/path]" if plain else "..."
            # Never print a password.
            shown = raw.replace(f":{parts.password}@", ":***@") if parts.password else raw
            raise ImproperlyConfigured(
                f"{name} must be a URL like {' or '.join(f'{s}://{shape}' for s in schemes)}, got {shown!r}"
            )
        return raw

    def items(self, name: str, default: str = "") -> list[str]:
        return [item.strip() for item in self.environ.get(name, default).split(",") if item.strip()]


def _port_ok(parts) -> bool:
    try:
        return parts.port is None or parts.port > 0
    except ValueError:  # not a number, or over 65535
        return False


def generated_secret(path: Path, length: int = 50) -> str:
    """A development secret created once and kept in the data dir, so restarts keep sessions and ciphertexts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(length)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (no quoting; `#` comments and blank lines skipped) of a file such as the `run.env`
    that `make run` writes; {} when the file does not exist, ImproperlyConfigured naming a malformed line."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not _ENV_NAME.fullmatch(name):
            # The line is not shown: it may hold a secret.
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value")
        values[name] = value
    return values


def reference_settings(env: Environment) -> dict:
    """The reference product's variable names (certctl.kernel.env_aliases): its aliases copied into `env`, and
    the settings only its variables give. Called by certctl/settings.py before any other read."""
    from certctl.kernel import env_aliases  # it builds on this module

    return env_aliases.reference_settings(env)
