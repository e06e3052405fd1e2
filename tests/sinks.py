"""Loopback test sinks, reusable by every stream: a scriptable HTTP server and an aiosmtpd SMTP server.

    from tests.sinks import point_channels_at   # `http_sink` / `smtp_sink` fixtures come from tests/conftest.py

    def test_x(http_sink, smtp_sink, settings):
        point_channels_at(settings, http_sink, smtp_sink)
        http_sink.respond(503, path="/pagerduty")          # every PagerDuty call fails, others get 200
        ...
        assert http_sink.count("/slack") == 1
        assert smtp_sink.messages[0]["To"] == "owner@example.test"

Channel paths used by `point_channels_at`: /webhook, /slack/<token>, /teams/<token>, /pagerduty, /opsgenie.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SLACK_TOKEN_PATH = "/slack/T0SECRET/B0SECRET/slacktokensecret"
TEAMS_TOKEN_PATH = "/teams/workflows/teamstokensecret"
PAGERDUTY_ROUTING_KEY = "pd-routing-key-secret-0123456789"
OPSGENIE_API_KEY = "opsgenie-api-key-secret-0123456789"
WEBHOOK_SECRET = "webhook-hmac-secret"
# What tests/conftest.py allows every test to deliver to (HTTP deliveries refuse non-public addresses).
LOOPBACK_NETWORKS = ["127.0.0.0/8", "::1/128"]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hang before answering (released early when the sink stops)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self):
        return json.loads(self.body)


@dataclass
class _Rule:
    path: str | None
    reply: Reply
    remaining: int | None


class HTTPSink:
    """A real HTTP/1.1 server on 127.0.0.1 that records every request and answers as scripted."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------------------------------------
    def respond(
        self,
        status: int = 200,
        *,
        path: str | None = None,
        times: int | None = None,
        body: bytes | str = b'{"ok":true}',
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer requests whose path starts with `path` (all when None) like this, `times` times (forever when None).

        Rules are checked oldest first; a request matching none gets 200.
        """
        reply = Reply(status, body.encode() if isinstance(body, str) else body, dict(headers or {}), delay)
        with self._lock:
            self._rules.append(_Rule(path, reply, times))

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self.requests.clear()

    def _reply_for(self, path: str) -> Reply:
        with self._lock:
            for rule in self._rules:
                if (rule.path is None or path.startswith(rule.path)) and (
                    rule.remaining is None or rule.remaining > 0
                ):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.reply
        return Reply()

    # -- inspection ----------------------------------------------------------------------------------------
    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path.startswith(path))

    def received(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path.startswith(path)]

    def wait_for(self, n: int, timeout: float = 10.0, path: str | None = None) -> bool:
        """Block until at least `n` requests (to `path`) arrived; a real wait for a real event, not a clock."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.count(path) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    # -- lifecycle -----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "sink not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    def start(self) -> HTTPSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes; Nagle + delayed ACK adds 40 ms

            def do_POST(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                with sink._lock:
                    sink.requests.append(record)
                    sink._lock.notify_all()
                reply = sink._reply_for(self.path)
                if reply.delay and sink._stopping.wait(reply.delay):
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout test)
                    self.close_connection = True

            def log_message(self, format, *args) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="http-sink")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> HTTPSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SMTPSink:
    """aiosmtpd on 127.0.0.1; `messages` are parsed EmailMessages, `envelopes` the raw SMTP envelopes.

    `security="starttls"` or `"tls"` serves a self-signed certificate for 127.0.0.1 (`ca_file` to trust it);
    `credentials=(user, password)` requires AUTH and records who logged in (`logins`).
    """

    def __init__(self, security: str = "none", credentials: tuple[str, str] | None = None) -> None:
        self.envelopes: list = []
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.reject_with: str | None = None  # e.g. "450 mailbox busy" or "550 no such user"
        self.security = security
        self.credentials = credentials
        self.ca_file: str | None = None
        self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_with:
            return self.reject_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(
            message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        )
        return "250 Message accepted"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        user = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = (
            auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        )
        ok = self.credentials is not None and (user, password) == self.credentials
        if ok:
            self.logins.append(user)
        return AuthResult(success=ok, handled=False)

    def _server_tls(self):
        import ssl
        import tempfile

        cert_file, key_file = _self_signed_certificate(tempfile.mkdtemp(prefix="smtp-sink-"))
        self.ca_file = cert_file
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> SMTPSink:
        from aiosmtpd.controller import Controller

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        options: dict = {}
        if self.security == "starttls":
            options.update(tls_context=self._server_tls(), require_starttls=True)
        elif self.security == "tls":
            options.update(ssl_context=self._server_tls())
        if self.credentials is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
            # aiosmtpd only counts STARTTLS as TLS; with implicit TLS the session is encrypted all the same.
            options["auth_require_tls"] = self.security == "starttls"
        self._controller = Controller(self, hostname="127.0.0.1", port=port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()


def _self_signed_certificate(directory: str) -> tuple[str, str]:
    """A throwaway P-256 certificate for 127.0.0.1 / localhost; returns (cert path, key path)."""
    import datetime
    import ipaddress
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def http_sink():
    sink = HTTPSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink():
    sink = SMTPSink().start()
    yield sink
    sink.stop()


def point_channels_at(settings, http: HTTPSink | None = None, smtp: SMTPSink | None = None) -> None:
    """Configure every channel against the sinks (pytest-django `settings` fixture), secrets included."""
    if http is not None:
        settings.WEBHOOK_URL = http.url_for("/webhook")
        settings.WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.SLACK_WEBHOOK_URL = http.url_for(SLACK_TOKEN_PATH)
        settings.TEAMS_WEBHOOK_URL = http.url_for(TEAMS_TOKEN_PATH)
        settings.PAGERDUTY_ROUTING_KEY = PAGERDUTY_ROUTING_KEY
        settings.PAGERDUTY_EVENTS_URL = http.url_for("/pagerduty/v2/enqueue")
        settings.OPSGENIE_API_KEY = OPSGENIE_API_KEY
        settings.OPSGENIE_API_URL = http.url_for("/opsgenie/v2/alerts")
    if smtp is not None:
        settings.SMTP_HOST = "127.0.0.1"
        settings.SMTP_PORT = smtp.port
        settings.SMTP_SECURITY = "none"
        settings.SMTP_USERNAME = ""
        settings.SMTP_PASSWORD = ""
        settings.SMTP_FROM_ADDRESS = "certctl@example.test"
