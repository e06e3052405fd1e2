"""`manage.py run_demo_receiver`: the loopback SMTP and HTTP servers `make run` sends demo alerts to."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from notifications.demo.receiver import HOST, DemoReceiver
from notifications.services.demo_inbox import receiver_channels


class Command(BaseCommand):
    help = (
        "Receive what the channels send on 127.0.0.1 (SMTP on CERTCTL_DEMO_RECEIVER_SMTP_PORT, HTTP on "
        "CERTCTL_DEMO_RECEIVER_HTTP_PORT) and show it in the admin's Inbox. Runs until SIGTERM or Ctrl-C."
    )

    def handle(self, *args, **options) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: stop.set())
        receiver = DemoReceiver(settings.DEMO_RECEIVER_HTTP_PORT, settings.DEMO_RECEIVER_SMTP_PORT).start()
        channels = ", ".join(receiver_channels()) or "no channel (every channel is configured)"
        self.stdout.write(
            f"Demo receiver on {HOST}: HTTP port {receiver.http_port}, SMTP port {receiver.smtp_port}; "
            f"receiving {channels}. Messages: admin > Notifications > Inbox (demo receiver)."
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            receiver.stop()
