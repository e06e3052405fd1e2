"""Email over STARTTLS and implicit TLS with SMTP AUTH, against aiosmtpd with a throwaway certificate."""

from __future__ import annotations

import socket
import time

import pytest

from notifications.enums import Channel, NotificationStatus
from notifications.services.delivery import deliver_one
from tests.notification_factories import NotificationEventFactory
from tests.sinks import SMTPSink, point_channels_at

pytestmark = [
    pytest.mark.django_db,
    # aiosmtpd cannot tell that an implicit-TLS session is encrypted, so the sink does not demand TLS for AUTH.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]
CREDENTIALS = ("certctl", "smtp-password-secret")


@pytest.fixture(params=["starttls", "tls"])
def secure_smtp(request, settings):
    sink = SMTPSink(security=request.param, credentials=CREDENTIALS).start()
    point_channels_at(settings, smtp=sink)
    settings.SMTP_SECURITY = request.param
    yield sink
    sink.stop()


def _deliver():
    event = NotificationEventFactory(channel=Channel.EMAIL)
    deliver_one(event.id)
    event.refresh_from_db()
    return event


def test_email_is_sent_over_tls_after_login(secure_smtp, settings, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", secure_smtp.ca_file)
    settings.SMTP_USERNAME, settings.SMTP_PASSWORD = CREDENTIALS
    event = _deliver()
    assert event.status == NotificationStatus.SENT
    assert secure_smtp.logins == ["certctl"]
    assert secure_smtp.messages[0]["To"] == "owner@example.test"


def test_an_untrusted_server_certificate_is_a_permanent_failure(secure_smtp, settings):
    settings.SMTP_USERNAME, settings.SMTP_PASSWORD = CREDENTIALS
    event = _deliver()
    assert event.status == NotificationStatus.DEAD
    assert event.last_error == "TLS certificate of SMTP 127.0.0.1 did not verify"
    assert secure_smtp.messages == []


def test_wrong_smtp_password_is_permanent_and_not_echoed(secure_smtp, settings, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", secure_smtp.ca_file)
    settings.SMTP_USERNAME, settings.SMTP_PASSWORD = "certctl", "wrong-password-value"
    event = _deliver()
    assert event.status == NotificationStatus.DEAD
    assert event.last_error.startswith("SMTP 535 from 127.0.0.1")
    assert "wrong-password-value" not in event.last_error


def test_plaintext_client_cannot_send_where_starttls_is_required(settings):
    sink = SMTPSink(security="starttls").start()
    try:
        point_channels_at(settings, smtp=sink)  # security "none"
        event = _deliver()
        assert event.status == NotificationStatus.DEAD
        assert event.last_error.startswith("SMTP 530 from 127.0.0.1")
        assert sink.messages == []
    finally:
        sink.stop()


def test_an_smtp_server_that_never_answers_is_a_transient_timeout(settings):
    """Timeouts on every call: a server that accepts the connection but never greets does not hang a worker."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        settings.SMTP_HOST, settings.SMTP_PORT = "127.0.0.1", server.getsockname()[1]
        settings.SMTP_SECURITY, settings.SMTP_FROM_ADDRESS = "none", "certctl@example.test"
        settings.NOTIFICATION_TIMEOUT_SECONDS = 0.5
        started = time.monotonic()
        event = _deliver()
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert elapsed < 5, f"the SMTP attempt took {elapsed:.1f}s with a 0.5s timeout"
    assert event.status == NotificationStatus.FAILED and event.retry_count == 1
    assert event.next_retry_at is not None
    assert event.last_error == "timed out talking to SMTP 127.0.0.1"
