"""The environment `make run` chooses (scripts/run-env.sh) and records in `<data dir>/run.env` for later commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from certctl.kernel.env import read_env_file
from tests import REPO_ROOT

CHANNELS = ["Email", "Webhook", "Slack", "Teams", "PagerDuty", "OpsGenie"]
SETTINGS = [
    "DEBUG", "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_FROM_ADDRESS", "WEBHOOK_URL", "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL", "OPSGENIE_API_KEY", "OPSGENIE_API_URL",
    "NOTIFICATION_RETRY_INTERVAL", "PUBLIC_URL", "DEMO_RECEIVER_HTTP_PORT", "DEMO_RECEIVER_SMTP_PORT",
    "NOTIFICATION_ALLOWED_NETWORKS",
]  # fmt: skip


def clean_environment(**env: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("CERTCTL_", "DATABASE_URL", "REDIS_URL"))
    }
    return base | env


def choose(tmp_path: Path, **env: str) -> tuple[list[str], Path]:
    """Source scripts/run-env.sh as run.sh does, write run.env; returns the demo channels and the file."""
    script = 'source scripts/run-env.sh && mkdir -p "$CERTCTL_DATA_DIR" && write_run_env && echo "${demo_channels[@]}"'
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO_ROOT,
        env=clean_environment(CERTCTL_DATA_DIR=str(tmp_path), **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.split(), tmp_path / "run.env"


def settings_in(data_dir: Path, **env: str) -> dict:
    """certctl.settings as a command sees it with only the data dir (and `env`) in its environment."""
    code = (
        f"import json, certctl.settings as s; print(json.dumps({{n: getattr(s, n) for n in {SETTINGS!r}}}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=clean_environment(CERTCTL_DATA_DIR=str(data_dir), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_without_channel_settings_every_channel_goes_to_the_demo_receiver_next_to_the_web_port(tmp_path):
    channels, run_env = choose(tmp_path, CERTCTL_PORT="8123", CERTCTL_ADMIN_PASSWORD="not-on-disk")
    assert channels == CHANNELS
    assert stat.S_IMODE(run_env.stat().st_mode) == 0o600
    assert "not-on-disk" not in run_env.read_text() and "CERTCTL_DATA_DIR" not in run_env.read_text()

    seen = settings_in(tmp_path)  # nothing but the data dir: the rest comes from run.env
    assert seen["DEBUG"] is True
    assert seen["PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert (seen["DEMO_RECEIVER_HTTP_PORT"], seen["DEMO_RECEIVER_SMTP_PORT"]) == (8124, 8125)
    assert (seen["SMTP_HOST"], seen["SMTP_PORT"], seen["SMTP_SECURITY"]) == ("127.0.0.1", 8125, "none")
    assert seen["SMTP_FROM_ADDRESS"] == "certctl@localhost"
    assert seen["SLACK_WEBHOOK_URL"] == "http://127.0.0.1:8124/slack/demo"
    assert seen["PAGERDUTY_EVENTS_URL"] == "http://127.0.0.1:8124/pagerduty/demo"
    assert seen["PAGERDUTY_ROUTING_KEY"] and seen["OPSGENIE_API_KEY"]


def test_a_channel_the_operator_configured_keeps_its_configuration(tmp_path):
    slack = "https://hooks.slack.com/services/T0/B0/operator"
    channels, _ = choose(
        tmp_path,
        CERTCTL_SLACK_WEBHOOK_URL=slack,
        CERTCTL_SMTP_HOST="smtp.example.com",
        CERTCTL_SMTP_FROM_ADDRESS="pki@example.com",
        CERTCTL_PAGERDUTY_ROUTING_KEY="operator-key",
    )
    assert channels == ["Webhook", "Teams", "OpsGenie"]
    seen = settings_in(tmp_path)
    assert seen["SLACK_WEBHOOK_URL"] == slack
    assert (seen["SMTP_HOST"], seen["SMTP_PORT"], seen["SMTP_SECURITY"]) == (
        "smtp.example.com",
        587,
        "starttls",
    )
    assert seen["PAGERDUTY_ROUTING_KEY"] == "operator-key"
    assert seen["PAGERDUTY_EVENTS_URL"] == "https://events.pagerduty.com/v2/enqueue"


def test_deliveries_may_reach_the_loopback_demo_receiver_and_the_operators_networks_stay(tmp_path):
    choose(tmp_path)
    assert settings_in(tmp_path)["NOTIFICATION_ALLOWED_NETWORKS"] == ["127.0.0.1/32", "::1/128"]
    choose(tmp_path, CERTCTL_NOTIFICATION_ALLOWED_NETWORKS="10.20.0.0/16")
    seen = settings_in(tmp_path)
    assert seen["NOTIFICATION_ALLOWED_NETWORKS"] == ["10.20.0.0/16", "127.0.0.1/32", "::1/128"]


def test_loopback_stays_refused_when_no_http_channel_goes_to_the_demo_receiver(tmp_path):
    channels, _ = choose(
        tmp_path,
        CERTCTL_WEBHOOK_URL="https://hooks.example.com/w",
        CERTCTL_SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T0/B0/x",
        CERTCTL_TEAMS_WEBHOOK_URL="https://example.webhook.office.com/x",
        CERTCTL_PAGERDUTY_ROUTING_KEY="pd",
        CERTCTL_OPSGENIE_API_KEY="og",
        CERTCTL_NOTIFICATION_ALLOWED_NETWORKS="10.20.0.0/16",
    )
    assert channels == ["Email"]
    assert settings_in(tmp_path)["NOTIFICATION_ALLOWED_NETWORKS"] == ["10.20.0.0/16"]
    choose(tmp_path, CERTCTL_DEMO_RECEIVER="false")
    assert settings_in(tmp_path)["NOTIFICATION_ALLOWED_NETWORKS"] == []


def test_the_demo_receiver_can_be_switched_off(tmp_path):
    channels, _ = choose(tmp_path, CERTCTL_DEMO_RECEIVER="false")
    assert channels == []
    seen = settings_in(tmp_path)
    assert seen["SLACK_WEBHOOK_URL"] == "" and seen["SMTP_HOST"] == ""


def test_the_real_environment_wins_over_run_env(tmp_path):
    choose(tmp_path, CERTCTL_NOTIFICATION_RETRY_INTERVAL="10s")
    assert settings_in(tmp_path)["NOTIFICATION_RETRY_INTERVAL"] == 10
    seen = settings_in(tmp_path, CERTCTL_NOTIFICATION_RETRY_INTERVAL="30s", CERTCTL_SLACK_WEBHOOK_URL="")
    assert seen["NOTIFICATION_RETRY_INTERVAL"] == 30
    assert seen["SLACK_WEBHOOK_URL"] == ""  # set, even if empty, is set


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CERTCTL_DEMO_RECEIVER_HTTP_PORT": "http"},
            "CERTCTL_DEMO_RECEIVER_HTTP_PORT must be a port number",
        ),
        ({"CERTCTL_PORT": "9000", "CERTCTL_DEMO_RECEIVER_SMTP_PORT": "9000"}, "must differ"),
    ],
)
def test_receiver_ports_that_cannot_work_stop_make_run(tmp_path, env, message):
    run = subprocess.run(
        ["bash", "-c", "source scripts/run-env.sh"],
        cwd=REPO_ROOT,
        env=clean_environment(CERTCTL_DATA_DIR=str(tmp_path / "data"), **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and message in run.stderr
    assert not (tmp_path / "data").exists()


def test_at_the_top_of_the_port_range_the_receiver_takes_the_ports_below(tmp_path):
    choose(tmp_path, CERTCTL_PORT="65535")
    seen = settings_in(tmp_path)
    assert (seen["DEMO_RECEIVER_HTTP_PORT"], seen["DEMO_RECEIVER_SMTP_PORT"]) == (65533, 65534)


def test_run_env_lines_are_read_verbatim_and_a_malformed_line_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "run.env"
    assert read_env_file(path) == {}
    path.write_text("# comment\n\nCERTCTL_A=x=y z\nDATABASE_URL=\n")
    assert read_env_file(path) == {"CERTCTL_A": "x=y z", "DATABASE_URL": ""}
    path.write_text("CERTCTL_A=1\nsecret-token-without-a-name\n")
    with pytest.raises(ImproperlyConfigured, match="line 2: expected NAME=value") as error:
        read_env_file(path)
    assert "secret-token" not in str(error.value)


def test_a_deployment_with_its_own_secret_key_ignores_a_run_env_left_in_its_data_dir(tmp_path):
    choose(tmp_path)
    assert settings_in(tmp_path)["DEBUG"] is True  # a command after `make run` gets its settings
    production = settings_in(
        tmp_path, CERTCTL_SECRET_KEY="production-secret-key-" + "x" * 40, CERTCTL_ENCRYPTION_KEY="y" * 44
    )
    assert production["DEBUG"] is False
    assert production["SLACK_WEBHOOK_URL"] == ""
