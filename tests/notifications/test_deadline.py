"""A whole-attempt deadline: a receiver that trickles its answer cannot hold a row past its lease (and so get it
sent again every lease); the attempt fails as transient and climbs the retry ladder."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from notifications.enums import Channel, NotificationStatus
from notifications.services import delivery
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db

TRICKLE_EVERY = 0.2


class TrickleServer:
    """A loopback HTTP server that answers one byte every TRICKLE_EVERY seconds, in the headers or the body."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.requests = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True, name="trickle-server")

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.requests += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            if self.phase == "headers":
                payload = head + b"x" * 1000
            else:
                conn.sendall(head)
                payload = b"x" * 1000
            for byte in payload:
                if self._stop.wait(TRICKLE_EVERY):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the client gave up
                    return


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_receiver_fails_the_attempt_at_the_deadline_and_is_not_resent_within_the_lease(
    settings, phase
):
    settings.NOTIFICATION_DEADLINE_SECONDS = 1
    settings.NOTIFICATION_TIMEOUT_SECONDS = 5  # each byte comes well within the per-read timeout
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    with TrickleServer(phase) as server:
        settings.WEBHOOK_URL = f"http://127.0.0.1:{server.port}/webhook/token"
        event = NotificationEventFactory(channel=Channel.WEBHOOK)

        started = time.monotonic()
        assert delivery.deliver_one(event.id) == NotificationStatus.FAILED
        assert time.monotonic() - started < 3
        event.refresh_from_db()
        assert (event.status, event.retry_count, event.claimed_until) == (NotificationStatus.FAILED, 1, None)
        assert event.last_error == "no complete answer from 127.0.0.1 within the 1s delivery deadline"

        # Within the lease nothing sends it again: the row is failed and waits for its retry time.
        assert delivery.process_pending(min_age_seconds=0).claimed == 0
        assert delivery.retry_due().claimed == 0
        assert server.requests == 1

        result = delivery.retry_due(now=event.next_retry_at)
        assert (result.claimed, result.dead) == (1, 1)
        event.refresh_from_db()
        assert (event.status, event.retry_count) == (NotificationStatus.DEAD, 2)
        assert server.requests == 2
