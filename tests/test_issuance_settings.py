"""Issuance settings read at startup: a bad CERTCTL_KEYGEN_MODE stops the server instead of guessing."""

from __future__ import annotations

import pytest

from tests.test_deploy_checks import manage, production_env


@pytest.mark.parametrize("mode", ["Server", "hsm"])
def test_invalid_keygen_mode_refuses_to_start(tmp_path, mode):
    result = manage(["check"], tmp_path, **production_env(), CERTCTL_KEYGEN_MODE=mode)
    assert result.returncode != 0
    assert "CERTCTL_KEYGEN_MODE must be 'agent' or 'server'" in result.stderr


@pytest.mark.parametrize("mode", ["agent", "server"])
def test_valid_keygen_modes_start(tmp_path, mode):
    result = manage(["check"], tmp_path, **production_env(), CERTCTL_KEYGEN_MODE=mode)
    assert result.returncode == 0, result.stderr
