"""The notification environment variables: documented defaults, overrides, and refusal of invalid values.

Each case imports certctl.settings in a fresh interpreter with a controlled environment (settings are read once).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests import REPO_ROOT

ROOT = REPO_ROOT
NAMES = [
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SLACK_USERNAME",
    "TEAMS_FORMAT",
    "PAGERDUTY_SEVERITY",
    "PAGERDUTY_EVENTS_URL",
    "OPSGENIE_PRIORITY",
    "OPSGENIE_API_URL",
    "NOTIFICATION_RETRY_BASE_SECONDS",
    "NOTIFICATION_RETRY_CAP_SECONDS",
    "NOTIFICATION_MAX_ATTEMPTS",
    "NOTIFICATION_TIMEOUT_SECONDS",
    "NOTIFICATION_RETRY_INTERVAL",
    "NOTIFICATION_PROCESS_INTERVAL",
]
SCRIPT = (
    f"import json, certctl.settings as s; print(json.dumps({{name: getattr(s, name) for name in {NAMES!r}}}))"
)


def _settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTCTL_")}
    clean.update(CERTCTL_DEBUG="true", CERTCTL_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_defaults_are_the_documented_ones(tmp_path):
    run = _settings(tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "SMTP_PORT": 587,
        "SMTP_SECURITY": "starttls",
        "SLACK_USERNAME": "certctl",
        "TEAMS_FORMAT": "messagecard",
        "PAGERDUTY_SEVERITY": "warning",
        "PAGERDUTY_EVENTS_URL": "https://events.pagerduty.com/v2/enqueue",
        "OPSGENIE_PRIORITY": "P3",
        "OPSGENIE_API_URL": "https://api.opsgenie.com/v2/alerts",
        "NOTIFICATION_RETRY_BASE_SECONDS": 60,
        "NOTIFICATION_RETRY_CAP_SECONDS": 3600,
        "NOTIFICATION_MAX_ATTEMPTS": 5,
        "NOTIFICATION_TIMEOUT_SECONDS": 10.0,
        "NOTIFICATION_RETRY_INTERVAL": 120.0,
        "NOTIFICATION_PROCESS_INTERVAL": 60.0,
    }


def test_the_ladder_and_channel_defaults_are_read_from_the_environment(tmp_path):
    run = _settings(
        tmp_path,
        CERTCTL_NOTIFICATION_RETRY_BASE_SECONDS="30",
        CERTCTL_NOTIFICATION_RETRY_CAP_SECONDS="600",
        CERTCTL_NOTIFICATION_MAX_ATTEMPTS="8",
        CERTCTL_NOTIFICATION_RETRY_INTERVAL="5m",
        CERTCTL_PAGERDUTY_SEVERITY="Critical",
        CERTCTL_OPSGENIE_PRIORITY="p1",
        CERTCTL_SMTP_SECURITY="TLS",
    )
    assert run.returncode == 0, run.stderr
    values = json.loads(run.stdout)
    assert values["NOTIFICATION_RETRY_BASE_SECONDS"] == 30
    assert values["NOTIFICATION_RETRY_CAP_SECONDS"] == 600
    assert values["NOTIFICATION_MAX_ATTEMPTS"] == 8
    assert values["NOTIFICATION_RETRY_INTERVAL"] == 300.0
    assert values["PAGERDUTY_SEVERITY"] == "critical"
    assert values["OPSGENIE_PRIORITY"] == "P1"
    assert values["SMTP_SECURITY"] == "tls"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CERTCTL_PAGERDUTY_SEVERITY", "urgent"),
        ("CERTCTL_OPSGENIE_PRIORITY", "P9"),
        ("CERTCTL_SMTP_SECURITY", "ssl"),
        ("CERTCTL_TEAMS_FORMAT", "html"),
    ],
)
def test_a_value_the_service_would_reject_stops_startup(tmp_path, name, value):
    """Otherwise every alert to that channel would be refused (HTTP 400) and go straight to dead."""
    run = _settings(tmp_path, **{name: value})
    assert run.returncode != 0
    assert "ImproperlyConfigured" in run.stderr and name in run.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CERTCTL_NOTIFICATION_ALLOWED_NETWORKS": "10.0.0.0/8, 10.0.0.300/32"},
            "'10.0.0.300/32' is not a network",
        ),
        ({"CERTCTL_NOTIFICATION_ALLOWED_NETWORKS": "10.1.2.3/8"}, "'10.1.2.3/8' is not a network"),
        (
            {"CERTCTL_NOTIFICATION_DEADLINE": "2m", "CERTCTL_NOTIFICATION_LEASE_SECONDS": "120"},
            "CERTCTL_NOTIFICATION_DEADLINE (120s) must be shorter than CERTCTL_NOTIFICATION_LEASE_SECONDS minus 5s",
        ),
    ],
)
def test_an_allowed_network_or_deadline_that_cannot_work_stops_startup(tmp_path, env, message):
    run = _settings(tmp_path, **env)
    assert run.returncode != 0
    assert "ImproperlyConfigured" in run.stderr and message in run.stderr


def test_the_hardened_delivery_defaults_and_overrides(tmp_path):
    code = "import certctl.settings as s; print(s.NOTIFICATION_DEADLINE_SECONDS, s.NOTIFICATION_ALLOWED_NETWORKS)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTCTL_")}
    clean.update(CERTCTL_DEBUG="true", CERTCTL_DATA_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)
    assert run.stdout.strip() == "30 []", run.stderr
    clean.update(
        CERTCTL_NOTIFICATION_DEADLINE="45s", CERTCTL_NOTIFICATION_ALLOWED_NETWORKS="10.20.0.0/16,fd00::/8"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)
    assert run.stdout.strip() == "45 ['10.20.0.0/16', 'fd00::/8']", run.stderr
