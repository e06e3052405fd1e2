"""A loopback ACME Renewal Information server (RFC 9773) for the tests: Debian's pebble 2.4 offers no renewalInfo.

`AriServer` serves `GET /dir` (a directory naming `/ari` as renewalInfo) and `GET /ari/<certID>` with the window
the test sets. With an `upstream` (pebble) it is an HTTPS front of that pebble: every other request is forwarded
with the front's own Host, so pebble builds its URLs (and checks the JWS `url`) for the front, and the test sees
what the client sent, e.g. the `replaces` of a new order.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "server", "date"}


@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime
    explanation_url: str = ""
    retry_after: int | None = None
    status: int = 200


@dataclass
class AriState:
    offer: bool = True  # the directory names renewalInfo
    windows: dict[str, Window] = field(default_factory=dict)  # by certID; "*" answers any
    asked: list[str] = field(default_factory=list)  # certIDs asked about
    new_orders: list[dict] = field(default_factory=list)  # payloads of newOrder requests (front of pebble)


def _handler(state: AriState, upstream: str, verify: str | bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            return None

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _base(self) -> str:
            scheme = "https" if upstream else "http"
            return f"{scheme}://{self.headers['Host']}"

        def _directory(self) -> None:
            if upstream:
                answer = self._forward()
                directory = answer.json()
            else:
                base = self._base()
                directory = {
                    "newNonce": f"{base}/nonce",
                    "newAccount": f"{base}/account",
                    "newOrder": f"{base}/order",
                }
            if state.offer:
                directory["renewalInfo"] = f"{self._base()}/ari"
            self._send(200, json.dumps(directory).encode(), {"Content-Type": "application/json"})

        def _renewal_info(self) -> None:
            cert_id = self.path.rsplit("/", 1)[-1]
            state.asked.append(cert_id)
            window = state.windows.get(cert_id) or state.windows.get("*")
            if window is None:
                self._send(404, b'{"type": "urn:ietf:params:acme:error:malformed"}')
                return
            if window.status != 200:
                self._send(window.status, b"{}", {"Content-Type": "application/json"})
                return
            body = {"suggestedWindow": {"start": _rfc3339(window.start), "end": _rfc3339(window.end)}}
            if window.explanation_url:
                body["explanationURL"] = window.explanation_url
            headers = {"Content-Type": "application/json"}
            if window.retry_after is not None:
                headers["Retry-After"] = str(window.retry_after)
            self._send(200, json.dumps(body).encode(), headers)

        def _forward(self) -> requests.Response:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")
            }
            return requests.request(
                self.command, upstream + self.path, data=body, headers=headers, verify=verify, timeout=30
            )

        def _proxy(self) -> None:
            if not upstream:
                self._send(404, b"")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "POST" and self.path.rstrip("/").endswith("order-plz") and body:
                payload = json.loads(body)["payload"]
                state.new_orders.append(
                    json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                )
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")
            }
            answer = requests.request(
                self.command,
                upstream + self.path,
                data=body or None,
                headers=headers,
                verify=verify,
                timeout=30,
            )
            kept = {
                k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}
            }
            self._send(answer.status_code, answer.content, kept)

        def do_GET(self):
            if self.path == "/dir":
                self._directory()
            elif self.path.startswith("/ari/"):
                self._renewal_info()
            else:
                self._proxy()

        def do_HEAD(self):
            self._proxy()

        def do_POST(self):
            self._proxy()

    return Handler


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AriServer:
    """A running loopback server; `directory_url` is what an issuer's config points at."""

    def __init__(self, *, upstream: str = "", upstream_ca_bundle: str = "") -> None:
        self.state = AriState()
        self.ca_bundle = ""
        self._tmp = tempfile.TemporaryDirectory()
        self.server = ThreadingHTTPServer(
            ("127.0.0.1", 0), _handler(self.state, upstream.rstrip("/"), upstream_ca_bundle or True)
        )
        self.server.daemon_threads = True
        scheme = "http"
        if upstream:
            scheme = "https"
            self.ca_bundle = self._wrap_in_tls(upstream_ca_bundle)
        self.directory_url = f"{scheme}://127.0.0.1:{self.server.server_port}/dir"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _wrap_in_tls(self, upstream_ca_bundle: str) -> str:
        """A throw-away CA and a certificate for 127.0.0.1; returns a bundle of it and the upstream's CA."""
        folder = Path(self._tmp.name)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certctl test ARI front CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        (folder / "front.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        (folder / "front.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "front.pem", folder / "front.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        bundle = folder / "bundle.pem"
        bundle.write_bytes(
            Path(upstream_ca_bundle).read_bytes() + ca.public_bytes(serialization.Encoding.PEM)
        )
        return str(bundle)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self._tmp.cleanup()
