"""Fixtures of the client tests: a live certctl server (pytest-django's live_server over the test PostgreSQL) with
an admin API key, for the `certctl` CLI and for `certctl-mcp`."""

from __future__ import annotations

import pytest

from certificates.demo_data import seed_demo
from tests.client.cli_process import KEY_NAME, Server
from tests.factories import make_api_key


@pytest.fixture
def server(live_server, tmp_path) -> Server:
    """The demo inventory on a live server, an admin key named cli-ops, and an empty HOME."""
    seed_demo()
    _, key = make_api_key(KEY_NAME, is_admin=True)
    home = tmp_path / "home"
    home.mkdir()
    return Server(url=live_server.url, key=key, home=home)


@pytest.fixture
def mcp_env(live_server, tmp_path) -> dict[str, str]:
    """What an assistant's config passes to certctl-mcp: the live server's URL and an admin key, no profile."""
    _, key = make_api_key("assistant", is_admin=True)
    return {
        "CERTCTL_URL": live_server.url,
        "CERTCTL_API_KEY": key,
        "CERTCTL_CONFIG": str(tmp_path / "no-config.toml"),
    }
