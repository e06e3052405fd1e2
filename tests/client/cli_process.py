"""The installed `certctl` console script as a subprocess against the live server of the `server` fixture
(tests/client/conftest.py). `run()` also checks that the API key appears in no output and that nothing crashed."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

CERTCTL = Path(sys.executable).parent / "certctl"
KEY_NAME = "cli-ops"


@dataclass
class Server:
    url: str
    key: str
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "CERTCTL_URL": self.url,
            "CERTCTL_API_KEY": self.key,
        }
        return {key: value for key, value in {**base, **extra}.items() if value is not None}

    def api(self, path: str, **params) -> dict | list:
        """What the API itself answers, to compare the CLI's --output json with."""
        response = httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )
        response.raise_for_status()
        return response.json()


def run(
    server: Server, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run certctl; `stdin` is piped in when given (else stdin is /dev/null, as in a script without input)."""
    result = subprocess.run(
        [str(CERTCTL), *args],
        env=env if env is not None else server.env(),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert server.key not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]
