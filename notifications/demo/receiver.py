"""The demo receiver of `make run`: loopback SMTP and HTTP servers standing in for a mail server, a webhook
endpoint, Slack, Teams, PagerDuty and OpsGenie. Whatever they get lands in the admin's Inbox.

Run by `manage.py run_demo_receiver`. `make run` points only the channels the operator left unconfigured at it
(scripts/run-env.sh), so a real channel never sends here. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection

from notifications.enums import Channel
from notifications.services import demo_inbox

logger = logging.getLogger(__name__)

HOST = demo_inbox.RECEIVER_HOST
# Larger requests are refused unread (HTTP 413, SMTP 552): nobody can fill the disk through the receiver.
MAX_REQUEST_BYTES = 1024 * 1024
USAGE = (
    b"certctl demo receiver. POST to /webhook, /slack, /teams, /pagerduty or /opsgenie; what arrives is shown\n"
    b"in the admin under Notifications > Inbox (demo receiver).\n"
)


def _reply(channel: str) -> tuple[int, str, bytes]:
    """What the real service answers to an accepted message (status, content type, body)."""
    if channel == Channel.SLACK:
        return 200, "text/plain", b"ok"
    if channel == Channel.TEAMS:
        return 200, "text/plain", b"1"
    if channel == Channel.PAGERDUTY:
        return 202, "application/json", b'{"status":"success","message":"Event processed"}'
    if channel == Channel.OPSGENIE:
        body = {"result": "Request will be processed", "took": 0.0, "requestId": str(uuid.uuid4())}
        return 202, "application/json", json.dumps(body).encode()
    return 200, "application/json", b'{"ok":true}'


def _stored(record, *args) -> bool:
    """Store through the inbox service on this thread's own connection, closed afterwards (one per request)."""
    try:
        message = record(*args)
    except Exception:
        logger.exception("demo receiver could not store a message")
        return False
    finally:
        connection.close()
    logger.info("%s message received: %s", message.channel, message.summary or message.request)
    return True


class _HTTPHandler(BaseHTTPRequestHandler):
    server_version = "certctl-demo-receiver"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(200, "text/plain", USAGE)

    def do_POST(self) -> None:
        channel = demo_inbox.channel_for_path(self.path)
        if channel is None:
            self._answer(404, "text/plain", USAGE)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, "text/plain", b"Content-Length required\n")
            return
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._answer(413, "text/plain", b"request too large for the demo receiver\n")
            return
        body = self.rfile.read(length)
        if not _stored(demo_inbox.record_http, channel, "POST", self.path, body):
            self._answer(500, "text/plain", b"could not store the message\n")
            return
        self._answer(*_reply(channel))

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        if status >= 400:
            self.close_connection = True  # an unread request body must not be taken for the next request
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        logger.debug("demo receiver HTTP: " + format, *args)


class _SMTPHandler:
    """aiosmtpd handler: runs on the controller's event loop, so the database work goes to a thread."""

    async def handle_DATA(self, server, session, envelope) -> str:
        content = envelope.original_content or envelope.content
        args = (envelope.mail_from, list(envelope.rcpt_tos), content)
        if await asyncio.to_thread(_stored, demo_inbox.record_email, *args):
            return "250 Message accepted for delivery"
        return "451 Requested action aborted: local error in processing"


class DemoReceiver:
    """Both servers, started and stopped together."""

    def __init__(self, http_port: int, smtp_port: int) -> None:
        self.http_port = http_port
        self.smtp_port = smtp_port
        self._http: ThreadingHTTPServer | None = None
        self._smtp = None

    def start(self) -> DemoReceiver:
        from aiosmtpd.controller import Controller

        self._http = ThreadingHTTPServer((HOST, self.http_port), _HTTPHandler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="demo-receiver-http", daemon=True).start()
        self._smtp = Controller(
            _SMTPHandler(), hostname=HOST, port=self.smtp_port, data_size_limit=MAX_REQUEST_BYTES
        )
        try:
            self._smtp.start()
        except BaseException:
            self._smtp = None
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
