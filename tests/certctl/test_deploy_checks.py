"""Production settings pass `manage.py check --deploy` and refuse to start without their secrets."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests import REPO_ROOT

ROOT = REPO_ROOT


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


def test_compose_file_wires_postgres_redis_web_worker_and_beat_with_healthchecks():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["CERTCTL_DEBUG"] == "false"
        assert env["CERTCTL_SECRET_KEY"].startswith("${CERTCTL_SECRET_KEY:?")
        assert env["CERTCTL_ENCRYPTION_KEY"].startswith("${CERTCTL_ENCRYPTION_KEY:?")
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"] == "redis://redis:6379/0"
    assert "gunicorn" in (ROOT / "Dockerfile").read_text()
    assert "worker" in services["worker"]["command"] and "beat" in services["beat"]["command"]


def test_dockerfile_copies_only_paths_that_exist():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_every_environment_variable_of_the_settings_is_documented():
    import re

    source = (ROOT / "certctl" / "settings.py").read_text()
    variables = set(re.findall(r'env\.(?:text|flag|integer|seconds|url|items)\(\s*"([A-Z_]+)"', source))
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert variables, "no variables found in settings.py"
    assert sorted(v for v in variables if f"`{v}`" not in documented) == []


def test_development_defaults_need_no_configuration_and_the_secret_key_is_kept(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CERTCTL_") and k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env |= {"CERTCTL_DEBUG": "true", "CERTCTL_DATA_DIR": str(tmp_path / "data")}
    show = (
        "from django.conf import settings as s; "
        "print(s.SECRET_KEY, s.TIME_ZONE, s.CELERY_BROKER_URL, s.DATABASES['default']['NAME'])"
    )

    def current() -> list[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", show],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1].split()  # after the shell's auto-import notice

    first = current()
    key_file = tmp_path / "data" / "secret_key"
    assert first == [key_file.read_text(), "UTC", "filesystem://", str(tmp_path / "data" / "certctl.sqlite3")]
    assert len(first[0]) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert current() == first  # generated once: a restart keeps sessions and signed values valid


def test_every_console_script_of_pyproject_points_at_a_real_function():
    import importlib
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "certctl-manage" in scripts
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function, None)), name


def test_certctl_manage_runs_management_commands(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTCTL_")}
    env |= {"CERTCTL_DEBUG": "true", "CERTCTL_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "certctl.cli", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
