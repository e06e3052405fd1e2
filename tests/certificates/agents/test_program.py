"""The agent program's loop: configuration, back-off on server errors and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from datetime import timedelta
from importlib.metadata import entry_points

import pytest
from django.utils import timezone

from certctl_agent import cli
from certctl_agent.config import ConfigError, load
from certctl_agent.runner import Agent
from certificates.inventory.models import Agent as AgentRow
from tests import REPO_ROOT
from tests.agent_helpers import make_agent

ROOT = REPO_ROOT


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingStop(threading.Event):
    """Stands in for the sleep between cycles: records each delay instead of waiting it out."""

    def __init__(self, cycles: int) -> None:
        super().__init__()
        self.delays: list[float] = []
        self.cycles = cycles

    def wait(self, timeout=None) -> bool:
        self.delays.append(timeout)
        if len(self.delays) >= self.cycles:
            self.set()
        return self.is_set()


def test_env_overrides_the_file_and_plain_http_is_only_for_loopback(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text('server_url = "https://certctl.example:8443"\npoll_interval = 10\nname = "from-file"\n')
    config = load(
        path, {"CERTCTL_AGENT_NAME": "from-env", "CERTCTL_AGENT_ALLOWED_DIRS": "/etc/nginx:/etc/haproxy"}
    )
    assert (config.name, config.poll_interval) == ("from-env", 10.0)
    assert [str(p) for p in config.allowed_dirs] == ["/etc/nginx", "/etc/haproxy"]
    with pytest.raises(ConfigError, match="https"):
        load(None, {"CERTCTL_SERVER_URL": "http://certctl.example"})
    with pytest.raises(ConfigError, match="ca_bundle"):
        load(None, {"CERTCTL_SERVER_CA_BUNDLE": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match="unknown config keys"):
        path.write_text('sever_url = "typo"\n')
        load(path, {})


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("server_url = 5", "server_url must be a string, got int"),  # was an AttributeError traceback
        ('allowed_commands = "systemctl reload nginx"', "allowed_commands must be a list of strings"),
        ('allowed_dirs = "/etc/nginx"', "allowed_dirs must be a list of strings"),
        ("allowed_dirs = [1]", "allowed_dirs must be a list of strings"),
        ('poll_interval = "often"', "poll_interval must be a number of seconds, got str"),
        ("poll_interval = true", "poll_interval must be a number of seconds, got bool"),
        ("name = []", "name must be a string, got list"),
    ],
)
def test_a_value_of_the_wrong_type_in_the_file_is_a_configuration_error(tmp_path, line, error):
    path = tmp_path / "agent.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=error):
        load(path, {})


def test_server_errors_back_off_exponentially_up_to_the_cap(tmp_path):
    config = load(
        None,
        {
            "CERTCTL_SERVER_URL": f"http://127.0.0.1:{closed_port()}",
            "CERTCTL_AGENT_BOOTSTRAP_TOKEN": "t",
            "CERTCTL_AGENT_STATE_DIR": str(tmp_path / "state"),
            "CERTCTL_AGENT_POLL_INTERVAL": "5",
            "CERTCTL_AGENT_MAX_BACKOFF": "30",
        },
    )
    stop = RecordingStop(cycles=5)
    assert Agent(config, stop=stop).run_forever() == 0
    assert stop.delays == [5, 10, 20, 30, 30]


def test_sigterm_stops_the_loop_cleanly(tmp_path, live_server, settings):
    settings.AGENT_BOOTSTRAP_TOKEN = "sigterm-token"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CERTCTL_SERVER_URL": live_server.url,
        "CERTCTL_AGENT_BOOTSTRAP_TOKEN": "sigterm-token",
        "CERTCTL_AGENT_STATE_DIR": str(tmp_path / "state"),
        "CERTCTL_AGENT_POLL_INTERVAL": "3600",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "certctl_agent"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "state" / "agent.json").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)  # waiting for a real process to register, not for time to pass
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "registered as agent=" in stderr and "stopping" in stderr


def test_loop_mode_exits_when_registration_is_refused(tmp_path, live_server, settings):
    settings.AGENT_BOOTSTRAP_TOKEN = "loop-token"
    make_agent(name="taken-name")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CERTCTL_SERVER_URL": live_server.url,
        "CERTCTL_AGENT_BOOTSTRAP_TOKEN": "loop-token",
        "CERTCTL_AGENT_NAME": "taken-name",
        "CERTCTL_AGENT_STATE_DIR": str(tmp_path / "state"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "certctl_agent"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "409" in result.stderr and "already exists" in result.stderr
    assert not (tmp_path / "state" / "agent.json").exists()


def test_pip_install_gives_the_certctl_agent_command():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["certctl-agent"] == "certctl_agent.cli:main"
    (installed,) = entry_points(group="console_scripts", name="certctl-agent")
    assert installed.load() is cli.main
    result = subprocess.run(
        [sys.executable, "-m", "certctl_agent", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.startswith("certctl-agent ")


@pytest.mark.parametrize(("interval", "beats"), [("3600", False), ("0.001", True)])
def test_a_heartbeat_is_sent_with_a_poll_only_once_it_is_due(
    tmp_path, live_server, settings, interval, beats
):
    settings.AGENT_BOOTSTRAP_TOKEN = "heartbeat-token"
    config = load(
        None,
        {
            "CERTCTL_SERVER_URL": live_server.url,
            "CERTCTL_AGENT_BOOTSTRAP_TOKEN": "heartbeat-token",
            "CERTCTL_AGENT_NAME": "beating",
            "CERTCTL_AGENT_STATE_DIR": str(tmp_path / "state"),
            "CERTCTL_AGENT_HEARTBEAT_INTERVAL": interval,
        },
    )
    agent = Agent(config)
    agent.ensure_registered()  # registering counts as the first heartbeat
    long_ago = timezone.now() - timedelta(hours=1)
    AgentRow.objects.filter(name="beating").update(last_heartbeat_at=long_ago, status="Offline")
    agent.cycle()
    row = AgentRow.objects.get(name="beating")
    assert (row.last_heartbeat_at > long_ago, row.status == "Online") == (beats, beats)


@pytest.mark.parametrize(("value", "seconds"), [(None, 300), ("90s", 90)])
def test_the_server_marks_agents_offline_after_five_minutes_by_default(tmp_path, value, seconds):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTCTL_")}
    env |= {"CERTCTL_DEBUG": "1", "CERTCTL_DATA_DIR": str(tmp_path / "data")}
    if value is not None:
        env["CERTCTL_AGENT_OFFLINE_AFTER"] = value
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.AGENT_OFFLINE_AFTER)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) == seconds
