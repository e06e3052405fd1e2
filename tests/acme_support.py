"""The ACME tests' real parts: pebble and pebble-challtestsrv started by scripts/with-services.sh, and certctl
served on the loopback port pebble validates HTTP-01 against (every name resolves to 127.0.0.1 there).

Without pebble these tests fail when CI is set and are skipped otherwise, like the browser tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from cryptography import x509
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections

from certificates.inventory.models import Issuer
from certificates.issuance.services.issuer_config import save_issuer
from tests.factories import ProfileFactory

NAMES = ["www.certctl-acme.test", "api.certctl-acme.test"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Pebble:
    directory_url: str
    eab_directory_url: str
    eab_kid: str
    eab_hmac_key: str
    ca_bundle: str
    management_url: str
    http_port: int

    def management(self, path: str) -> requests.Response:
        return requests.get(f"{self.management_url}{path}", verify=self.ca_bundle, timeout=10)

    def roots(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.management("/roots/0").content)

    def status_of(self, certificate: x509.Certificate) -> dict:
        return self.management(f"/cert-status-by-serial/{certificate.serial_number:x}").json()


@pytest.fixture(scope="session")
def pebble() -> Pebble:
    """The pebble that scripts/with-services.sh started; fails under CI without it, skips elsewhere."""
    names = (
        "PEBBLE_DIRECTORY_URL",
        "PEBBLE_CA_BUNDLE",
        "PEBBLE_MANAGEMENT_URL",
        "CERTCTL_TEST_ACME_HTTP_PORT",
    )
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        reason = (
            f"no pebble ACME server ({', '.join(missing)} unset); run the tests through scripts/with-services.sh "
            "(make test), which installs Debian's pebble and starts it"
        )
        if _in_ci():
            pytest.fail(f"ACME tests cannot run: {reason}. CI is set, so this is an error, not a skip.")
        pytest.skip(f"ACME tests skipped: {reason}")
    return Pebble(
        directory_url=os.environ["PEBBLE_DIRECTORY_URL"],
        eab_directory_url=os.environ.get("PEBBLE_EAB_DIRECTORY_URL", ""),
        eab_kid=os.environ.get("PEBBLE_EAB_KID", ""),
        eab_hmac_key=os.environ.get("PEBBLE_EAB_HMAC_KEY", ""),
        ca_bundle=os.environ["PEBBLE_CA_BUNDLE"],
        management_url=os.environ["PEBBLE_MANAGEMENT_URL"],
        http_port=int(os.environ["CERTCTL_TEST_ACME_HTTP_PORT"]),
    )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        return None


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _closing_connections(handler: WSGIHandler):
    """Each request runs in its own thread: close its database connections, or the test database cannot be dropped."""

    def app(environ, start_response):
        try:
            return list(handler(environ, start_response))
        finally:
            connections.close_all()

    return app


_serving: list[str] = []  # the URL while a server runs: folders whose conftest imports the fixture share it
_server: list = []  # the running server and its thread, so a test can free the port for a while


def _start_certctl(port: int) -> None:
    server = make_server(
        "127.0.0.1", port, _closing_connections(WSGIHandler()), server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _server[:] = [server, thread]


def _stop_certctl() -> None:
    if _server:
        server, thread = _server
        server.shutdown()
        server.server_close()
        thread.join()
        _server.clear()


@pytest.fixture(scope="session")
def certctl_on_http01_port(pebble) -> Iterator[str]:
    """certctl (Django's WSGI handler) on 127.0.0.1:CERTCTL_TEST_ACME_HTTP_PORT, where pebble fetches HTTP-01."""
    if _serving:  # another folder's conftest started it (one port, one server)
        yield _serving[0]
        return
    _start_certctl(pebble.http_port)
    _serving.append(f"http://127.0.0.1:{pebble.http_port}")
    yield _serving[0]
    _serving.clear()
    _stop_certctl()


@pytest.fixture
def free_http01_port(pebble) -> Iterator[int]:
    """The HTTP-01 port with nothing on it (certctl, if a session fixture serves it there, is back afterwards):
    for an answer served by an agent's webroot or its own port."""
    was_serving = bool(_server)
    _stop_certctl()
    yield pebble.http_port
    if was_serving:
        _start_certctl(pebble.http_port)


@pytest.fixture
def acme_served(certctl_on_http01_port, settings) -> str:
    """certctl answers HTTP-01 for the test names: ALLOWED_HOSTS stays as configured, the challenge path is
    answered before the Host check (certificates.issuance.middleware)."""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    return certctl_on_http01_port


def make_acme_issuer(pebble: Pebble, *, name: str = "pebble", eab: bool = False, **config) -> Issuer:
    """An ACME issuer pointing at pebble (or at the pebble that requires External Account Binding)."""
    fields = {
        "name": name,
        "type": "ACME",
        "config": {
            "directory_url": pebble.eab_directory_url if eab else pebble.directory_url,
            "contact_email": "pki@certctl-acme.test",
            "agree_tos": True,
            "ca_bundle": pebble.ca_bundle,
            "poll_timeout_seconds": 30,
            **({"eab_kid": pebble.eab_kid} if eab else {}),
            **config,
        },
    }
    return save_issuer(Issuer(), fields, {"eab_hmac_key": pebble.eab_hmac_key} if eab else None)


def acme_profile():
    return ProfileFactory(
        allowed_key_algorithms=[
            {"algorithm": "ECDSA", "min_size": 256},
            {"algorithm": "RSA", "min_size": 2048},
        ],
        allowed_ekus=["serverAuth", "clientAuth"],
    )
