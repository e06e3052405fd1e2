"""Production settings pass `manage.py check --deploy` and refuse to start without their secrets."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CERTCTL_")}
    base |= {
        "CERTCTL_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env() -> dict[str, str]:
    return {
        "CERTCTL_DEBUG": "false",
        "CERTCTL_SECRET_KEY": secrets.token_urlsafe(50),
        "CERTCTL_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        "CERTCTL_ALLOWED_HOSTS": "certctl.example.com",
    }


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], tmp_path, **production_env())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env()
    del env["CERTCTL_SECRET_KEY"]
    result = manage(["check"], tmp_path, **env)
    assert result.returncode != 0
    assert "CERTCTL_SECRET_KEY is required" in result.stderr


def test_production_refuses_to_start_without_an_encryption_key(tmp_path):
    env = production_env()
    del env["CERTCTL_ENCRYPTION_KEY"]
    result = manage(["check"], tmp_path, **env)
    assert result.returncode != 0
    assert "CERTCTL_ENCRYPTION_KEY is required" in result.stderr
