"""Settings read at startup: a bad CERTCTL_KEYGEN_MODE or a malformed URL stops the server instead of guessing."""

from __future__ import annotations

import pytest

from tests.certctl.test_deploy_checks import manage, production_env


@pytest.mark.parametrize("mode", ["Server", "hsm"])
def test_invalid_keygen_mode_refuses_to_start(tmp_path, mode):
    result = manage(["check"], tmp_path, **production_env(), CERTCTL_KEYGEN_MODE=mode)
    assert result.returncode != 0
    assert "CERTCTL_KEYGEN_MODE must be 'agent' or 'server'" in result.stderr


@pytest.mark.parametrize("mode", ["agent", "server"])
def test_valid_keygen_modes_start(tmp_path, mode):
    result = manage(["check"], tmp_path, **production_env(), CERTCTL_KEYGEN_MODE=mode)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        # written into the CRL and OCSP URLs of every leaf: a typo must stop the server, not ship in certificates
        ("CERTCTL_PUBLIC_URL", "pki.example.com", "CERTCTL_PUBLIC_URL must be a URL like http://host"),
        ("CERTCTL_PUBLIC_URL", "ldap://pki.example.com", "CERTCTL_PUBLIC_URL must be a URL like http://host"),
        ("CERTCTL_PUBLIC_URL", "https://pki.example.com/?x=1", "CERTCTL_PUBLIC_URL must be a URL"),
        ("CERTCTL_PUBLIC_URL", "https://pki.example.com/a b", "CERTCTL_PUBLIC_URL must be a URL"),
        ("CERTCTL_PUBLIC_URL", "http://127.0.0.1:abc", "CERTCTL_PUBLIC_URL must be a URL"),
        ("CERTCTL_PUBLIC_URL", "http://127.0.0.1:70000", "CERTCTL_PUBLIC_URL must be a URL"),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL must be a URL like redis://"),
        (
            "DATABASE_URL",
            "postgress://certctl:s3cret@db/certctl",
            "DATABASE_URL must be a URL like postgres://",
        ),
    ],
)
def test_a_malformed_url_setting_refuses_to_start_and_hides_passwords(tmp_path, name, value, expected):
    result = manage(["check"], tmp_path, **production_env(), **{name: value})
    assert result.returncode != 0
    assert expected in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    if name == "DATABASE_URL":
        assert "postgress://certctl:***@db/certctl" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CERTCTL_PUBLIC_URL", "https://pki.example.com"),
        ("CERTCTL_PUBLIC_URL", "http://10.0.0.5:8000/certctl/"),
        ("REDIS_URL", "rediss://:pw@cache.example.com:6380/1"),
    ],
)
def test_well_formed_url_settings_start(tmp_path, name, value):
    result = manage(["check"], tmp_path, **production_env(), **{name: value})
    assert result.returncode == 0, result.stderr
