"""`make run` end to end: scripts/run.sh serves admin, API docs and /ready with live heartbeats; Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from certctl.kernel.credentials import hash_key
from tests import REPO_ROOT

ROOT = REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def start_run(tmp_path: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTCTL_", "DATABASE_URL", "REDIS_URL"))}
    env |= {
        "VENV": str(Path(sys.executable).parent.parent),
        "CERTCTL_DATA_DIR": str(tmp_path / "data"),
        "CERTCTL_PORT": str(port),
        "CERTCTL_HEARTBEAT_INTERVAL": "1s",
        "CERTCTL_ADMIN_PASSWORD": "demo-password-1",
    }
    return subprocess.Popen(
        ["scripts/run.sh"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def wait_for_heartbeats(base: str, deadline: float) -> dict:
    while time.monotonic() < deadline:
        try:
            status, body = get(f"{base}/ready")
        except OSError:
            status, body = 0, ""
        if status == 200:
            ready = json.loads(body)
            if (
                ready["worker_heartbeat_age_seconds"] is not None
                and ready["beat_heartbeat_age_seconds"] is not None
            ):
                return ready
        time.sleep(0.5)
    raise AssertionError("worker and beat heartbeats never showed on /ready")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=40)


@pytest.mark.slow
def test_make_run_serves_everything_and_stops_on_ctrl_c_twice_in_a_row(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    keys: list[str] = []
    for attempt in (1, 2):
        log = tmp_path / f"run{attempt}.log"
        proc = start_run(tmp_path, port, log)
        try:
            ready = wait_for_heartbeats(base, time.monotonic() + 90)
            assert (ready["db"], ready["broker"]) == ("reachable", "reachable")
            output = log.read_text()
            assert f"{base}/admin/" in output and f"{base}/api/docs/" in output
            key, url = re.search(
                r'curl -s -H "Authorization: Bearer (cctl_[\w-]+)" "([^"]+)"', output
            ).groups()
            keys.append(key)
            assert get(f"{base}/admin/login/")[0] == 200
            docs_status, docs = get(f"{base}/api/docs/")
            assert docs_status == 200 and "/static/drf_spectacular_sidecar/" in docs and "cdn" not in docs
            status, listing = get(url, {"Authorization": f"Bearer {key}"})
            assert status == 200 and json.loads(listing)["total"] == 30  # the printed curl line works
            assert get(url)[0] == 401
        finally:
            returncode = stop(proc)
        assert returncode == 0, log.read_text()[-3000:]
        assert "all processes stopped" in log.read_text()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    second = (tmp_path / "run2.log").read_text()
    assert "created: 0 teams, 0 owners" in second
    assert "password demo-password-1" in second
    with sqlite3.connect(tmp_path / "data" / "certctl.sqlite3") as db:
        rows = dict(db.execute("SELECT key_hash, revoked_at IS NULL FROM certctl_apikey").fetchall())
    assert rows == {hash_key(keys[0]): 0, hash_key(keys[1]): 1}  # each run revokes the previous run's key


@pytest.mark.parametrize("port", ["abc", "0", "70000", "80 80"])
def test_a_port_that_is_not_a_port_stops_make_run_before_it_touches_anything(tmp_path, port):
    env = {**os.environ, "CERTCTL_DATA_DIR": str(tmp_path / "data"), "CERTCTL_PORT": port}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        ["bash", "scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"CERTCTL_PORT must be a port number (1-65535), got '{port}'" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing migrated or created
