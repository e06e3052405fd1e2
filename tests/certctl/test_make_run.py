"""`make run` end to end: scripts/run.sh serves admin, API docs and /ready with live heartbeats, alerts land in
the demo receiver's Inbox, commands share its environment; Ctrl-C, SIGTERM or a closed terminal stops every process,
and a second `make run` on the same data dir refuses to start."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import termios
import threading
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


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports (the demo TLS lab's four): CERTCTL_PORT + 443, what
    make run takes by default, may be an ephemeral port some other connection holds."""
    while True:
        first = free_port()
        if first + count > 65535:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def clean_env(**env: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("CERTCTL_", "DATABASE_URL", "REDIS_URL"))
    }
    return base | env


def run_env(tmp_path: Path, port: int, receiver_ports: tuple[int, int]) -> dict[str, str]:
    return clean_env(
        VENV=str(Path(sys.executable).parent.parent),
        CERTCTL_DATA_DIR=str(tmp_path / "data"),
        CERTCTL_PORT=str(port),
        CERTCTL_DEMO_RECEIVER_HTTP_PORT=str(receiver_ports[0]),
        CERTCTL_DEMO_RECEIVER_SMTP_PORT=str(receiver_ports[1]),
        CERTCTL_DEMO_TLS_LAB_PORT=str(free_ports(4)),
        CERTCTL_HEARTBEAT_INTERVAL="1s",
        CERTCTL_ADMIN_PASSWORD="demo-password-1",
    )


def start_run(tmp_path: Path, port: int, log: Path, receiver_ports: tuple[int, int]) -> subprocess.Popen:
    env = run_env(tmp_path, port, receiver_ports)
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


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=40)


@pytest.mark.slow
def test_make_run_serves_everything_and_stops_on_ctrl_c_twice_in_a_row(tmp_path):
    port, receiver_ports = free_port(), (free_port(), free_port())
    base = f"http://127.0.0.1:{port}"
    keys: list[str] = []
    for attempt, sig in ((1, signal.SIGINT), (2, signal.SIGTERM)):
        log = tmp_path / f"run{attempt}.log"
        proc = start_run(tmp_path, port, log, receiver_ports)
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
            returncode = stop(proc, sig)
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


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (gunicorn and celery children included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def inbox_channels(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "certctl.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT channel FROM notifications_demoinboxmessage")]


def start_in_terminal(env: dict[str, str]) -> tuple[subprocess.Popen, int, bytearray]:
    """scripts/run.sh in a pseudo-terminal it owns, as in a terminal window; closing `master` hangs it up."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # the pty becomes its terminal
    )
    os.close(slave)
    output = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            output.extend(chunk)

    threading.Thread(target=read, daemon=True).start()
    return proc, master, output


@pytest.mark.slow
def test_alerts_reach_the_inbox_commands_share_the_environment_and_closing_the_terminal_stops_all(tmp_path):
    port, receiver_ports = free_port(), (free_port(), free_port())
    base = f"http://127.0.0.1:{port}"
    env = run_env(tmp_path, port, receiver_ports)
    data_dir = tmp_path / "data"
    proc, master, output = start_in_terminal(env)
    try:
        wait_for_heartbeats(base, time.monotonic() + 90)
        banner = output.decode(errors="replace")
        assert f"Inbox      {base}/admin/notifications/demoinboxmessage/" in banner
        key = re.search(r"API key    (cctl_[\w-]+)", banner).group(1)

        again = subprocess.run(
            ["scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
        )
        assert again.returncode == 1
        assert f"already running with the data dir {data_dir} (pid {proc.pid})" in again.stderr

        request = urllib.request.Request(
            f"{base}/api/v1/admin/expiry-check", method="POST", headers={"Authorization": f"Bearer {key}"}
        )
        assert urllib.request.urlopen(request, timeout=10).status == 202
        deadline = time.monotonic() + 60
        while not {"Email", "Slack", "PagerDuty", "OpsGenie"} <= set(inbox_channels(data_dir)):
            assert time.monotonic() < deadline, inbox_channels(data_dir)
            time.sleep(0.5)
        with sqlite3.connect(data_dir / "certctl.sqlite3") as db:
            dead = db.execute("SELECT COUNT(*) FROM notifications_notificationevent WHERE status = 'dead'")
            assert dead.fetchone()[0] == 0

        # A command in a fresh shell: only the data dir (the default `data/` needs not even that).
        command = subprocess.run(
            [sys.executable, "manage.py", "send_test_notification", "teams"],
            cwd=ROOT,
            env=clean_env(CERTCTL_DATA_DIR=str(data_dir)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert command.returncode == 0 and "Teams: delivered" in command.stdout, command.stderr
        assert "Teams" in inbox_channels(data_dir)

        processes = descendants(proc.pid)
        assert len(processes) >= 8  # supervisor's 4 processes, 2 gunicorn workers, 2 celery children
    finally:
        os.close(master)  # the terminal window closes: SIGHUP
        returncode = proc.wait(timeout=40)
    assert returncode == 0
    assert [pid for pid in processes if alive(pid)] == []
    for listening in (port, *receiver_ports):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", listening), timeout=1).close()
