"""`make test`'s scripts/with-services.sh: a throwaway PostgreSQL + Redis, stopped again even when the run fails."""

from __future__ import annotations

import os
import socket
import subprocess
from urllib.parse import urlsplit

import pytest

from tests import REPO_ROOT

ROOT = REPO_ROOT

PROBE = """
import os, socket
from urllib.parse import urlsplit
for name in ("DATABASE_URL", "REDIS_URL"):
    url = urlsplit(os.environ[name])
    socket.create_connection((url.hostname, url.port), timeout=5).close()
    print(name, url.hostname, url.port)
"""


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_services_answer_inside_the_command_and_are_stopped_when_it_fails():
    before = set((ROOT / ".tmp").glob("services.*"))
    result = subprocess.run(
        ["scripts/with-services.sh", "bash", "-c", f"python3 -c '{PROBE}' && exit 3"],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 3, result.stderr  # the command's failure is the script's exit status
    started = {
        name: (host, int(port))
        for name, host, port in (line.split() for line in result.stdout.splitlines() if "_URL " in line)
    }
    assert started.keys() == {"DATABASE_URL", "REDIS_URL"}
    for name, (host, port) in started.items():
        assert host == "127.0.0.1"
        assert not listening(host, port), f"{name} {host}:{port} still answers after the run"
    assert set((ROOT / ".tmp").glob("services.*")) == before  # its state directory is gone
    outer = os.environ.get("DATABASE_URL", "")
    if outer.startswith("postgres"):
        url = urlsplit(outer)
        assert listening(url.hostname, url.port)  # the suite's own PostgreSQL was left alone
